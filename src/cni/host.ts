/**
 * The node side of a pod's network: the bridge holding the gateway, the
 * host end of each pod's veth, and IP forwarding. Owns: bridge `weft0` (and
 * its gateway address), host veths named `veth<hash>`, net.ipv4.ip_forward.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createBridge, getLink, setLinkUp, type LinkInfo } from "../netlink/link.ts";
import { ensureAddress, listAddresses } from "../netlink/addr.ts";
import type { RouteSocket } from "../netlink/socket.ts";
import { SysError } from "../sys/syscalls.ts";
import { CniError, ERR_KERNEL } from "./errors.ts";

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
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
  }
  return `veth${a.toString(16).padStart(8, "0")}${(b >>> 20).toString(16).padStart(3, "0")}`;
}

/** Ensures the bridge exists, is up and holds `gateway/len`; returns it. Safe under concurrent ADDs. */
export function ensureBridge(sock: RouteSocket, name: string, gateway: number, len: number): LinkInfo {
  let link = getLink(sock, name);
  if (!link) {
    try {
      createBridge(sock, name);
    } catch (err) {
      if (!(err instanceof SysError && err.code === "EEXIST")) throw err;
    }
    link = getLink(sock, name);
    if (!link) throw new CniError(ERR_KERNEL, `bridge ${name} vanished right after it was created`);
  }
  if (link.kind !== undefined && link.kind !== "bridge") {
    throw new CniError(ERR_KERNEL, `interface ${name} exists but is a ${link.kind}, not a bridge`, "set \"bridge\" in the weft conflist to a free name, or remove that interface");
  }
  // Reading is cheaper than a replace, which the kernel announces to every
  // listener; after the first pod the address is nearly always there.
  if (!listAddresses(sock, link.index).some((a) => a.ip === gateway && a.len === len)) ensureAddress(sock, link.index, gateway, len);
  if (!link.up) setLinkUp(sock, link.index);
  return link;
}

/** Turns on IPv4 forwarding in the current (node) namespace if it is off. */
export function ensureForwarding(): void {
  const path = "/proc/sys/net/ipv4/ip_forward";
  if (readFileSync(path, "utf8").trim() !== "1") writeFileSync(path, "1");
}
