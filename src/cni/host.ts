/**
 * The node side of a pod's network: the bridge holding the gateway, the
 * host end of each pod's veth, and IP forwarding. Owns: bridge `weft0` (and
 * its gateway address), host veths named `veth<hash>`, net.ipv4.ip_forward.
 */
import { createBridge, createVethRequest, decodeLink, deleteLink, getLink, getLinkRequest, hairpinRequest, linkUpRequest, type LinkInfo, type VethSpec } from "../netlink/link.ts";
import { addAddressRequest } from "../netlink/addr.ts";
import { firstError, type Request, type RouteSocket } from "../netlink/socket.ts";
import type { Files } from "../sys/files.ts";
import { SysError } from "../sys/syscalls.ts";
import { CniError, ERR_INVALID_CONFIG, ERR_KERNEL } from "./errors.ts";

/**
 * The host veth's name, derived from the attachment so DEL and GC find it
 * without the pod's namespace: "veth" + 11 hex digits of a 44-bit hash.
 */
export function hostVethName(containerId: string, ifname: string): string {
  const s = `${containerId}/${ifname}`;
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x9e3779b9;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = mul32(a ^ c, 0x01000193);
    b = mul32(b ^ c, 0x5bd1e995);
  }
  return `veth${a.toString(16).padStart(8, "0")}${(b >>> 20).toString(16).padStart(3, "0")}`;
}

/**
 * x·k mod 2³², as Math.imul(x, k) >>> 0 (exact: both partial products stay
 * below 2⁵³). Not Math.imul, because the first touch of Math costs the
 * plugin ~45 µs (see src/cni/main.ts), and every ADD and DEL names a veth.
 */
function mul32(x: number, k: number): number {
  return (x * (k & 0xffff) + ((x * (k >>> 16)) & 0xffff) * 0x10000) >>> 0;
}

/**
 * The bridge `name` when it exists, undefined when it does not. A link of
 * that name that is not a bridge (lo, a NIC, a veth, …) is error 7, before
 * ADD changes anything: the gateway address would land on it.
 */
export function findBridge(sock: RouteSocket, name: string): LinkInfo | undefined {
  const link = getLink(sock, name);
  if (link && link.kind !== "bridge") {
    const what = link.kind !== undefined ? `a ${link.kind} link` : link.loopback ? "the loopback device" : "a device without a link kind (a physical NIC or the like)";
    throw new CniError(ERR_INVALID_CONFIG, `invalid network configuration: bridge "${name}" is not a bridge: it is ${what}`, 'set "bridge" in the weft conflist to the name of a bridge or to a free name (weft makes the bridge), and leave that interface alone');
  }
  return link;
}

/**
 * Creates the bridge, when findBridge found none; returns it as it is
 * now. Safe under concurrent ADDs (another may create it first). Its
 * address and its state are settled by connectHost, in the batch that
 * also makes the pod's veth.
 */
export function ensureBridge(sock: RouteSocket, name: string): LinkInfo {
  try {
    createBridge(sock, name);
  } catch (err) {
    if (!(err instanceof SysError && err.code === "EEXIST")) throw err;
  }
  const link = findBridge(sock, name);
  if (!link) throw new CniError(ERR_KERNEL, `bridge ${name} vanished right after it was created`);
  return link;
}

/** The node's side of one pod as connectHost left it. */
export interface HostSide {
  /** The host end of the veth; `link` is the pod end's index in the pod's namespace. */
  host: LinkInfo;
  /** The bridge after the host end joined it (a bridge takes its MAC from its ports). */
  bridge: LinkInfo;
}

/**
 * Connects a pod's veth to the bridge in one netlink batch:
 *
 *   1. the gateway address on the bridge, exclusively: after the first pod
 *      it is there (EEXIST, which is fine) and stays untouched, where a
 *      replace would be announced to every listener;
 *   2. the bridge up, when it is not;
 *   3. the veth pair (createVethRequest);
 *   4. hairpin on the host end, when `hairpin`;
 *   5. the host end and the bridge read back.
 *
 * When any change fails it deletes the veth again (if this batch made it)
 * and throws the first failure; a taken name is SysError EEXIST.
 */
export function connectHost(sock: RouteSocket, bridge: LinkInfo, gateway: number, len: number, veth: VethSpec, hairpin: boolean): HostSide {
  const requests: Request[] = [addAddressRequest(bridge.index, gateway, len, true)];
  if (!bridge.up) requests.push(linkUpRequest(bridge.index));
  const create = requests.push(createVethRequest(veth)) - 1;
  if (hairpin) requests.push(hairpinRequest(veth.hostName));
  requests.push(getLinkRequest(veth.hostName), getLinkRequest(bridge.index));
  const outcomes = sock.batch(requests);
  const failed = firstError(outcomes, (i, e) => i === 0 && e.code === "EEXIST");
  const host = outcomes[outcomes.length - 2]!.replies?.[0];
  const after = outcomes[outcomes.length - 1]!.replies?.[0];
  if (failed || !host || !after) {
    if (!outcomes[create]!.error) {
      try {
        deleteLink(sock, veth.hostName);
      } catch {
        // The original failure matters more; GC removes a leftover veth.
      }
    }
    throw failed ?? new CniError(ERR_KERNEL, `veth ${veth.hostName} or bridge ${bridge.name} vanished right after the veth was created`);
  }
  return { host: decodeLink(host.payload), bridge: decodeLink(after.payload) };
}

/** Turns on IPv4 forwarding in the current (node) namespace if it is off. */
export function ensureForwarding(files: Files): void {
  const path = "/proc/sys/net/ipv4/ip_forward";
  if (files.readText(path)?.trim() !== "1") files.writeText(path, "1", 0o644);
}
