/**
 * The forward-hook chains of an `nft -j list ruleset`: trace checks that the
 * agent's `ip weft forward` exists and points out other tables' chains on
 * the same hook that drop, since any of them can stop pod traffic that
 * weft's chain accepts. A chain whose policy is drop but that accepts the
 * cluster CIDR both ways lets pod traffic through, by the rule `weft
 * doctor` applies (doctor/forward-chains.ts), so the two agree.
 */
import { acceptsBothWays } from "../doctor/forward-chains.ts";
import { forwardHookChains, type NftRuleset } from "../kernel/nft-ruleset.ts";
import type { Prefix } from "../lib/ipv4.ts";
import type { ForwardChain } from "./facts.ts";

/** True when a statement is a drop or reject verdict. */
function drops(statement: unknown): boolean {
  return typeof statement === "object" && statement !== null && ("drop" in statement || "reject" in statement);
}

/** Every chain hooked into forward, with its policy, how many of its rules drop or reject, and whether it accepts `podCidr` both ways. */
export function forwardChains(ruleset: NftRuleset, podCidr: Prefix): ForwardChain[] {
  return forwardHookChains(ruleset).map((c) => ({
    name: `${c.family} ${c.table} ${c.name}`,
    policy: c.policy,
    dropRules: c.rules.filter((expr) => expr.some(drops)).length,
    acceptsPods: acceptsBothWays(c.rules.map((expr) => JSON.stringify(expr)), podCidr),
  }));
}
