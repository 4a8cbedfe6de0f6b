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
    .map((c) => ({ ...c, rules: c.rules.map((expr) => JSON.stringify(expr)) }));
}

/** True when one of `chain`'s rules accepts `field` (saddr or daddr) in `cidr`, as `ip saddr CIDR accept` does. */
function accepts(chain: ForeignForwardChain, field: "saddr" | "daddr", cidr: Prefix): boolean {
  const prefix = JSON.stringify({ prefix: { addr: formatIp(cidr.base), len: cidr.len } });
  return chain.rules.some((r) => r.includes(`"field":"${field}"`) && r.includes(prefix) && r.includes('"accept"'));
}

/** The chains whose drop policy stops pod traffic: policy drop, and not accepting the cluster CIDR both ways. */
export function droppingPodTraffic(chains: readonly ForeignForwardChain[], cidr: Prefix): ForeignForwardChain[] {
  return chains.filter((c) => c.policy === "drop" && !(accepts(c, "saddr", cidr) && accepts(c, "daddr", cidr)));
}
