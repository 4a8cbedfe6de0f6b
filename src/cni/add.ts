/**
 * ADD: connect the pod to the node bridge.
 *
 *   1. take an address from the node subnet (IPAM, under the store lock);
 *   2. ensure bridge weft0 holding the gateway, and IP forwarding;
 *   3. create the veth pair in one request: host end enslaved and up, peer
 *      born inside the pod's namespace as CNI_IFNAME with the MTU;
 *   4. hairpin on the host end;
 *   5. in the pod: the address, link up, a default route via the gateway.
 *
 * Any failure undoes what this ADD made (the veth, a freshly taken address)
 * and leaves what it found (an address an earlier ADD of the same
 * attachment holds).
 */
import { CniError, ERR_KERNEL } from "./errors.ts";
import { ensureBridge, ensureForwarding, hostVethName } from "./host.ts";
import type { Machine } from "./context.ts";
import type { PluginConfig } from "./config.ts";
import type { CniEnv } from "./env.ts";
import { extend, fromPrevResult, type Result } from "./result.ts";
import { IpamStore } from "../ipam/store.ts";
import { formatIp } from "../lib/ipv4.ts";
import { ensureAddress } from "../netlink/addr.ts";
import { createVeth, deleteLink, getLink, setHairpin, setLinkUp } from "../netlink/link.ts";
import { ensureRoute } from "../netlink/route.ts";
import { SysError } from "../sys/syscalls.ts";
import { readSubnetFile } from "../subnet/file.ts";

export function add(m: Machine, conf: PluginConfig, env: CniEnv): Result {
  const node = readSubnetFile(conf.subnetFile);
  const podNs = m.openNetns(env.netns);
  const mtu = conf.mtu ?? node.mtu;
  const ipam = new IpamStore(conf.dataDir, conf.name, m.lock);
  const owner = { containerId: env.containerId, ifname: env.ifname, ...podOf(env) };
  const { ip, fresh } = ipam.allocate(node.subnet, node.gateway, owner);
  const hostName = hostVethName(env.containerId, env.ifname);
  const sock = m.nodeSocket();
  let vethMade = false;
  try {
    const bridge = ensureBridge(sock, conf.bridge, node.gateway, node.subnet.len);
    ensureForwarding();
    const pod = m.podSocket(podNs);
    if (getLink(pod, env.ifname)) throw new CniError(ERR_KERNEL, `interface ${env.ifname} already exists in ${env.netns}`, "use another CNI_IFNAME, or DEL the attachment that made it");
    try {
      createVeth(sock, { hostName, peerName: env.ifname, mtu, masterIndex: bridge.index, peerNsFd: podNs });
    } catch (err) {
      if (err instanceof SysError && err.code === "EEXIST") throw new CniError(ERR_KERNEL, `host interface ${hostName} for ${env.containerId}/${env.ifname} already exists`, "DEL this attachment first");
      throw err;
    }
    vethMade = true;
    const host = getLink(sock, hostName);
    const podLink = getLink(pod, env.ifname);
    if (!host || !podLink) throw new CniError(ERR_KERNEL, `veth pair ${hostName}/${env.ifname} vanished right after it was created`);
    if (conf.hairpinMode) setHairpin(sock, host.index);
    ensureAddress(pod, podLink.index, ip, node.subnet.len);
    setLinkUp(pod, podLink.index);
    ensureRoute(pod, 0, 0, node.gateway, podLink.index);
    const own: Result = {
      interfaces: [
        { name: bridge.name, mac: bridge.mac },
        { name: host.name, mac: host.mac },
        { name: env.ifname, mac: podLink.mac, sandbox: env.netns, mtu },
      ],
      ips: [{ address: `${formatIp(ip)}/${node.subnet.len}`, gateway: formatIp(node.gateway), interface: 2 }],
      routes: [{ dst: "0.0.0.0/0", gw: formatIp(node.gateway) }],
      dns: conf.dns,
    };
    return extend(fromPrevResult(conf.prevResult), own);
  } catch (err) {
    if (vethMade) {
      try {
        deleteLink(sock, hostName);
      } catch {
        // The original error matters more; GC removes a leftover veth.
      }
    }
    if (fresh) ipam.release(owner);
    throw err;
  }
}

/** The pod's namespace/name from CNI_ARGS, recorded with its address for `weft status ipam`. */
export function podOf(env: CniEnv): { pod?: string } {
  const name = env.args.get("K8S_POD_NAME");
  return name ? { pod: `${env.args.get("K8S_POD_NAMESPACE") ?? "default"}/${name}` } : {};
}
