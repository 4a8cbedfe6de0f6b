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
 *                         cluster CIDR. An accept ends this table's say
 *                         only: a base chain of another table on the same
 *                         hook still sees the packet, so a host whose
 *                         forward policy is drop (Docker sets one in `ip
 *                         filter`) drops pod traffic whatever this chain
 *                         says; `weft doctor` and `weft trace`
 *                         name such a chain (doctor/forward-chains.ts).
 *       chain postrouting hook postrouting, srcnat (only with ipMasq):
 *                         cluster → cluster returns untouched (pods see
 *                         each other's own IPs: no NAT between pods),
 *                         cluster → multicast returns untouched, and
 *                         cluster → anywhere else is masqueraded to the
 *                         address of the interface it leaves by, because
 *                         nothing outside the cluster routes pod IPs back.
 *       chains vxlan_in,  hooks prerouting and output at priority raw
 *       vxlan_out         (only with a VXLAN port): the backend's
 *                         encapsulated UDP packets are not tracked.
 *                         Conntrack would add one entry per inner flow
 *                         (the source port is a hash of the inner
 *                         headers) and could NAT a tunnel packet (a
 *                         masquerade rule matching the mark the inner
 *                         packet carried). The inner packets are still
 *                         tracked, so service NAT and stateful policy
 *                         keep working on pod traffic.
 *
 * The table is weft's alone: anything else put into `ip weft` is dropped by
 * the next ensureMasquerade. Its owner changes it only when it differs from
 * what the owner last wrote (MasqueradeTable): a resync reads the table and
 * rewrites it, in one transaction, only after a change by someone else or
 * of the options.
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
  /** The VXLAN backend's UDP port, whose tunnel packets go untracked; absent for host-gw. */
  vxlanPort?: number;
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
  const port = options.vxlanPort;
  const untrack = port === undefined
    ? ""
    : `
  chain vxlan_in {
    type filter hook prerouting priority raw; policy accept;
    udp dport ${port} notrack
  }
  chain vxlan_out {
    type filter hook output priority raw; policy accept;
    udp dport ${port} notrack
  }`;
  return `${deleteTableScript(NFT_FAMILY, NFT_TABLE)}table ${NFT_FAMILY} ${NFT_TABLE} {
  chain forward {
    type filter hook forward priority filter; policy accept;
    ip saddr ${cidr} accept
    ip daddr ${cidr} accept
  }${nat}${untrack}
}
`;
}

/**
 * Table ip weft as its one owner keeps it: `ensure` writes the table when
 * the options changed since the last write or the table differs from what
 * nft listed right after it (drift), and otherwise leaves it alone, so a
 * resync costs one read and the table is not replaced every few seconds.
 */
export class MasqueradeTable {
  #written: { script: string; listing: string } | undefined;

  /** Brings the table to `options`; true when it had to be written. */
  async ensure(runner: Runner, options: MasqueradeOptions): Promise<boolean> {
    const script = masqueradeScript(options);
    if (this.#written?.script === script && (await listTable(runner)) === this.#written.listing) return false;
    await applyNft(runner, script);
    this.#written = { script, listing: await listTable(runner) };
    return true;
  }
}

/** `nft list table ip weft`, or "" when there is none. */
async function listTable(runner: Runner): Promise<string> {
  const r = await runner.exec(["nft", "list", "table", NFT_FAMILY, NFT_TABLE]);
  return r.code === 0 ? r.stdout : "";
}

/** Turns forwarding on and brings the table to `options` (through `table`, which remembers what it wrote); true when the table was written. */
export async function ensureMasquerade(runner: Runner, options: MasqueradeOptions, table = new MasqueradeTable()): Promise<boolean> {
  await ensureSysctl(runner, "net.ipv4.ip_forward", "1");
  return table.ensure(runner, options);
}

/** Deletes the table; succeeds when it is already gone. Forwarding is left on (other things may rely on it). */
export async function removeMasquerade(runner: Runner): Promise<void> {
  await applyNft(runner, deleteTableScript(NFT_FAMILY, NFT_TABLE));
}
