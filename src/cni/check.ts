/**
 * CHECK: is the pod's network still as ADD left it? Compares the kernel
 * with prevResult: the pod interface exists, is up and holds its address,
 * the default route goes via the gateway, the host veth is on the bridge,
 * and IPAM still records the address for this attachment.
 */
import { CniError, ERR_CHECK_FAILED, ERR_INVALID_CONFIG } from "./errors.ts";
import { hostVethName } from "./host.ts";
import type { Machine } from "./context.ts";
import type { PluginConfig } from "./config.ts";
import type { CniEnv } from "./env.ts";
import { IpamStore } from "../ipam/store.ts";
import { formatIp, parseInterfaceAddress, tryParseIp } from "../lib/ipv4.ts";
import { listAddresses } from "../netlink/addr.ts";
import { getLink } from "../netlink/link.ts";
import { listRoutes } from "../netlink/route.ts";

export function check(m: Machine, conf: PluginConfig, env: CniEnv): void {
  if (!conf.prevResult) throw new CniError(ERR_INVALID_CONFIG, "CHECK needs prevResult (the result of ADD) in the network configuration");
  const prev = conf.prevResult;
  const podIndex = prev.interfaces.findIndex((i) => i.name === env.ifname && i.sandbox === env.netns);
  const ipConf = prev.ips.find((ip) => ip.interface === podIndex);
  if (podIndex < 0 || !ipConf) throw new CniError(ERR_CHECK_FAILED, `prevResult has no address for ${env.ifname} in ${env.netns}`);
  const fail = (what: string) => new CniError(ERR_CHECK_FAILED, `CHECK failed for ${env.containerId}/${env.ifname}: ${what}`);
  let want: ReturnType<typeof parseInterfaceAddress>;
  try {
    want = parseInterfaceAddress(ipConf.address, "prevResult address");
  } catch {
    // A well-formed address (the config parser checked it) that is not IPv4: not one weft gave.
    throw fail(`prevResult gives ${env.ifname} the address ${ipConf.address}, which weft never assigns (its pod addresses are IPv4)`);
  }

  const pod = m.podSocket(m.openNetns(env.netns));
  const link = getLink(pod, env.ifname);
  if (!link) throw fail(`interface ${env.ifname} is missing from ${env.netns}`);
  if (!link.up) throw fail(`interface ${env.ifname} is down`);
  if (!listAddresses(pod, link.index).some((a) => a.ip === want.ip && a.len === want.prefix.len)) throw fail(`interface ${env.ifname} has lost its address ${ipConf.address}`);
  const gw = ipConf.gateway === undefined ? undefined : tryParseIp(ipConf.gateway);
  if (gw !== undefined && !listRoutes(pod).some((r) => r.len === 0 && r.gateway === gw)) throw fail(`the pod has no default route via ${formatIp(gw)}`);

  const sock = m.nodeSocket();
  const hostName = hostVethName(env.containerId, env.ifname);
  const host = getLink(sock, hostName);
  const bridge = getLink(sock, conf.bridge);
  if (!host) throw fail(`host interface ${hostName} is missing`);
  if (!bridge || host.master !== bridge.index) throw fail(`host interface ${hostName} is not attached to bridge ${conf.bridge}`);
  const held = new IpamStore(conf.dataDir, conf.name, m.files, m.lock).list().find((a) => a.containerId === env.containerId && a.ifname === env.ifname);
  if (held?.ip !== formatIp(want.ip)) throw fail(`IPAM does not record ${formatIp(want.ip)} for this attachment`);
}
