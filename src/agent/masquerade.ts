/**
 * Forwarding and masquerade for pod traffic, in the node's namespace.
 *
 * Kernel state owned here:
 *   - net.ipv4.ip_forward = 1: pods' packets cross the node (weft0 to the
 *     underlay or weft.<VNI> and back). Per network namespace.
 *   - the nftables table `ip weft`, written whole as one `nft -f -`
 *     transaction (declare, delete, define), so a rerun replaces it
 *     atomically and never leaves a half-written or duplicated rule set:
 *       chain forward     hook forward: accept traffic from or to the
 *                         cluster CIDR explicitly, so a host whose forward
 *                         policy is drop (Docker sets one) still carries
 *                         pod traffic as far as this table can say so.
 *       chain postrouting hook postrouting, srcnat (only with ipMasq):
 *                         cluster → cluster returns untouched (pods see
 *                         each other's own IPs: no NAT between pods),
 *                         cluster → multicast returns untouched, and
 *                         cluster → anywhere else is masqueraded to the
 *                         address of the interface it leaves by, because
 *                         nothing outside the cluster routes pod IPs back.
 *
 * The table is weft's alone: anything else put into `ip weft` is dropped by
 * the next ensureMasquerade.
 */
import { formatPrefix, parsePrefix } from "../lib/ipv4.ts";
import { applyNft, deleteTableScript } from "../kernel/nft.ts";
import type { Runner } from "../kernel/runner.ts";
import { ensureSysctl } from "../kernel/sysctl.ts";

/** The nftables family of the table the agent owns. */
export const NFT_FAMILY = "ip";
/** The name of the table the agent owns. */
export const NFT_TABLE = "weft";

/** What the rules depend on. */
export interface MasqueradeOptions {
  /** The cluster CIDR, e.g. 10.244.0.0/16 (the default pod CIDR). */
  clusterCidr: string;
  /** Masquerade pod traffic leaving the cluster CIDR (the subnet file's WEFT_IPMASQ). */
  ipMasq: boolean;
}

/** The full nft script for `options`: it replaces the table whatever was in it. */
export function masqueradeScript(options: MasqueradeOptions): string {
  const cidr = formatPrefix(parsePrefix(options.clusterCidr, "cluster CIDR"));
  const nat = options.ipMasq
    ? `
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr ${cidr} ip daddr ${cidr} return
    ip saddr ${cidr} ip daddr 224.0.0.0/4 return
    ip saddr ${cidr} masquerade
  }`
    : "";
  return `${deleteTableScript(NFT_FAMILY, NFT_TABLE)}table ${NFT_FAMILY} ${NFT_TABLE} {
  chain forward {
    type filter hook forward priority filter; policy accept;
    ip saddr ${cidr} accept
    ip daddr ${cidr} accept
  }${nat}
}
`;
}

/** Turns forwarding on and writes the table for `options`; idempotent. */
export async function ensureMasquerade(runner: Runner, options: MasqueradeOptions): Promise<void> {
  const script = masqueradeScript(options);
  await ensureSysctl(runner, "net.ipv4.ip_forward", "1");
  await applyNft(runner, script);
}

/** Deletes the table; succeeds when it is already gone. Forwarding is left on (other things may rely on it). */
export async function removeMasquerade(runner: Runner): Promise<void> {
  await applyNft(runner, deleteTableScript(NFT_FAMILY, NFT_TABLE));
}
