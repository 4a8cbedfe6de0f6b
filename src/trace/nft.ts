/**
 * The forward-hook chains of an `nft -j list ruleset`: trace checks that the
 * agent's `ip weft forward` exists and points out other tables' chains on
 * the same hook that drop, since any of them can stop pod traffic that
 * weft's chain accepts.
 */
import { forwardHookChains, type NftRuleset } from "../kernel/nft-ruleset.ts";
import type { ForwardChain } from "./facts.ts";

/** True when a statement is a drop or reject verdict. */
function drops(statement: unknown): boolean {
  return typeof statement === "object" && statement !== null && ("drop" in statement || "reject" in statement);
}

/** Every chain hooked into forward, with its policy and how many of its rules drop or reject. */
export function forwardChains(ruleset: NftRuleset): ForwardChain[] {
  return forwardHookChains(ruleset).map((c) => ({
    name: `${c.family} ${c.table} ${c.name}`,
    policy: c.policy,
    dropRules: c.rules.filter((expr) => expr.some(drops)).length,
  }));
}
