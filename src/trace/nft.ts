/**
 * The forward-hook chains of an `nft -j list ruleset`: trace checks that the
 * agent's `ip weft forward` exists and points out other tables' chains on
 * the same hook that drop, since any of them can stop pod traffic that
 * weft's chain accepts.
 */
import type { ForwardChain } from "./facts.ts";

/** The parts of nft's JSON that name chains and their rules' verdicts. */
interface NftObject {
  chain?: { family: string; table: string; name: string; hook?: string; policy?: string };
  rule?: { family: string; table: string; chain: string; expr?: Record<string, unknown>[] };
}

/** Every chain hooked into forward, with its policy and how many of its rules drop or reject. */
export function forwardChains(ruleset: { nftables?: NftObject[] }): ForwardChain[] {
  const objects = ruleset.nftables ?? [];
  const key = (family: string, table: string, chain: string) => `${family} ${table} ${chain}`;
  const drops = new Map<string, number>();
  for (const o of objects) {
    if (!o.rule || !o.rule.expr?.some((e) => "drop" in e || "reject" in e)) continue;
    const k = key(o.rule.family, o.rule.table, o.rule.chain);
    drops.set(k, (drops.get(k) ?? 0) + 1);
  }
  return objects
    .filter((o) => o.chain?.hook === "forward")
    .map((o) => {
      const name = key(o.chain!.family, o.chain!.table, o.chain!.name);
      return { name, policy: o.chain!.policy ?? "accept", dropRules: drops.get(name) ?? 0 };
    });
}
