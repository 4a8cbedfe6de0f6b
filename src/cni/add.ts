/**
 * ADD: connect the pod to the node bridge.
 *
 *   0. check what can be refused (the subnet file, the pod's namespace,
 *      that a link named like the bridge is a bridge), changing nothing;
 *   1. take an address from the node subnet (IPAM, under the store lock,
 *      which refuses a damaged store); for a Kubernetes pod (K8S_POD_NAME),
 *      tell the node's agent the address and wait until network policy
 *      covers it (announce.ts), so the pod is isolated from its first packet;
 *   2. create bridge weft0 if it is missing, and turn on IP forwarding;
 *   3. one netlink batch on the node (host.ts connectHost): the gateway on
 *      the bridge, the veth pair (host end enslaved and up, peer born inside
 *      the pod's namespace as CNI_IFNAME with the MTU), hairpin;
 *   4. one batch in the pod (pod.ts configurePod): the address, link up, a
 *      default route via the gateway.
 *
 * Netlink round trips, not bytes, are what an ADD pays for: this is three
 * (bridge lookup, node batch, pod batch) where one request at a time took
 * ten.
 *
 * Any failure undoes what this ADD made (the veth, a freshly taken address)
 * and leaves what it found (an address an earlier ADD of the same
 * attachment holds).
 */
import { agentSocketBeside, announcePod } from "./announce.ts";
import { CniError, ERR_KERNEL } from "./errors.ts";
import { connectHost, ensureBridge, ensureForwarding, findBridge, hostVethName, type HostSide } from "./host.ts";
import { configurePod } from "./pod.ts";
import type { Machine } from "./context.ts";
import type { PluginConfig } from "./config.ts";
import type { CniEnv } from "./env.ts";
import { EMPTY_RESULT, extend, type Result } from "./result.ts";
import { IpamStore } from "../ipam/store.ts";
import { formatIp } from "../lib/ipv4.ts";
import { deleteLink, getLink } from "../netlink/link.ts";
import { SysError } from "../sys/syscalls.ts";
import { readSubnetFileWith } from "../subnet/format.ts";

export function add(m: Machine, conf: PluginConfig, env: CniEnv): Result {
  // Everything that can be refused is checked before the first change:
  // the subnet file, the pod's namespace, the bridge (an existing link of
  // that name must be a bridge) and the IPAM store (taking the address is
  // the first change, undone below on failure).
  const node = readSubnetFileWith(conf.subnetFile, (p) => m.files.readText(p));
  const podNs = m.openNetns(env.netns);
  const mtu = conf.mtu ?? node.mtu;
  const sock = m.nodeSocket();
  const found = findBridge(sock, conf.bridge);
  const ipam = new IpamStore(conf.dataDir, conf.name, m.files, m.lock);
  const owner = { containerId: env.containerId, ifname: env.ifname, ...podOf(env) };
  const { ip, fresh } = ipam.allocate(node.subnet, node.gateway, owner);
  const hostName = hostVethName(env.containerId, env.ifname);
  let vethMade = false;
  try {
    // Before the address exists anywhere, so not even the kernel's answers (an RST, an echo reply) leave the pod unfiltered.
    const podName = env.args.get("K8S_POD_NAME");
    if (podName) announcePod(m.sys, agentSocketBeside(conf.subnetFile), env.args.get("K8S_POD_NAMESPACE") ?? "default", podName, formatIp(ip));
    const bridge = found ?? ensureBridge(sock, conf.bridge);
    ensureForwarding(m.files);
    const pod = m.podSocket(podNs);
    let made: HostSide;
    try {
      made = connectHost(sock, bridge, node.gateway, node.subnet.len, { hostName, peerName: env.ifname, mtu, masterIndex: bridge.index, peerNsFd: podNs }, conf.hairpinMode);
    } catch (err) {
      if (!(err instanceof SysError && err.code === "EEXIST")) throw err;
      // One of the two names is taken; the pod's is the likelier mistake.
      if (getLink(pod, env.ifname)) throw new CniError(ERR_KERNEL, `interface ${env.ifname} already exists in ${env.netns}`, "use another CNI_IFNAME, or DEL the attachment that made it");
      throw new CniError(ERR_KERNEL, `host interface ${hostName} for ${env.containerId}/${env.ifname} already exists`, "DEL this attachment first");
    }
    vethMade = true;
    const { host, bridge: after } = made;
    if (!host.link) throw new CniError(ERR_KERNEL, `the kernel did not report the pod end of veth ${hostName}`);
    const podLink = configurePod(pod, host.link, ip, node.subnet.len, node.gateway);
    const own: Result = {
      interfaces: [
        { name: after.name, mac: after.mac },
        { name: host.name, mac: host.mac },
        { name: env.ifname, mac: podLink.mac, sandbox: env.netns, mtu },
      ],
      ips: [{ address: `${formatIp(ip)}/${node.subnet.len}`, gateway: formatIp(node.gateway), interface: 2 }],
      routes: [{ dst: "0.0.0.0/0", gw: formatIp(node.gateway) }],
      dns: conf.dns,
    };
    return extend(conf.prevResult ?? EMPTY_RESULT, own);
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
