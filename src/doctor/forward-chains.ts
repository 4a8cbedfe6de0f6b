/**
 * Other tables' chains on the forward hook, from `nft -j list ruleset`.
 * An accept in `ip weft forward` ends only that chain: every other base
 * chain on the hook still sees the packet, so a chain whose policy is drop
 * (Docker puts one in `ip filter FORWARD`) drops pod traffic crossing the
 * node unless it accepts the cluster CIDR itself.
 */
import { NFT_FAMILY, NFT_TABLE } from "../agent/masquerade.ts";
import { forwardHookChains, type NftRuleset } from "../kernel/nft-ruleset.ts";
import { formatIp, type Prefix } from "../lib/ipv4.ts";

/** A forward-hook chain of a table that is not weft's. */
export interface ForeignForwardChain {
  family: string;
  table: string;
  name: string;
  policy: string;
  /** Each rule's expressions as JSON text, in order. */
  rules: string[];
}

/** The routed families: a forward chain in these sees pod traffic the node routes. */
const ROUTED = new Set(["ip", "inet"]);

/** Every ip/inet chain hooked into forward that is not in `ip weft`, with its rules. */
export function foreignForwardChains(ruleset: NftRuleset): ForeignForwardChain[] {
  return forwardHookChains(ruleset)
    .filter((c) => ROUTED.has(c.family) && !(c.family === NFT_FAMILY && c.table === NFT_TABLE))
    .map(({ family, table, name, policy, rules }) => ({ family, table, name, policy, rules: rules.map((expr) => JSON.stringify(expr)) }));
}

/**
 * True when one of `rules` (statements as JSON text) accepts traffic in
 * `cidr`, as `ip saddr CIDR accept` does; with `field`, only matches on
 * that address (saddr or daddr) count.
 */
export function acceptsCidr(rules: readonly string[], cidr: Prefix, field?: "saddr" | "daddr"): boolean {
  const prefix = JSON.stringify({ prefix: { addr: formatIp(cidr.base), len: cidr.len } });
  return rules.some((r) => (field === undefined || r.includes(`"field":"${field}"`)) && r.includes(prefix) && r.includes('"accept"'));
}

/** True when `rules` accept `cidr` as source and as destination: then a drop policy spares pod traffic (`weft trace` judges chains by this too). */
export function acceptsBothWays(rules: readonly string[], cidr: Prefix): boolean {
  return acceptsCidr(rules, cidr, "saddr") && acceptsCidr(rules, cidr, "daddr");
}

/** The chains whose drop policy stops pod traffic: policy drop, and not accepting the cluster CIDR both ways. */
export function droppingPodTraffic(chains: readonly ForeignForwardChain[], cidr: Prefix): ForeignForwardChain[] {
  return chains.filter((c) => c.policy === "drop" && !acceptsBothWays(c.rules, cidr));
}
