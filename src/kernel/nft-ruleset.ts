/**
 * Reading `nft -j list ruleset` (or `nft -j list table`): chains with their
 * rules, the chains hooked into forward whatever table they are in, and the
 * objects of one table. weft trace and weft doctor both read the ruleset
 * once and take what they need from here.
 */

/** An nftables ruleset as `nft -j list ruleset` prints it. */
export interface NftRuleset {
  nftables?: unknown[];
}

/** The parts of nft's JSON objects that name tables, chains and rules. */
interface NftObject {
  table?: { family: string; name: string };
  chain?: { family: string; table: string; name: string; hook?: string; policy?: string };
  rule?: { family: string; table: string; chain: string; expr?: unknown[] };
}

/** A chain with its rules' statements in order. */
export interface NftChain {
  family: string;
  table: string;
  name: string;
  /** The hook of a base chain; undefined for a chain only jumped to. */
  hook: string | undefined;
  policy: string;
  /** Each rule's statements (`expr`), in order. */
  rules: unknown[][];
}

/** Every chain, with its rules. */
export function nftChains(ruleset: NftRuleset): NftChain[] {
  const objects = (ruleset.nftables ?? []) as NftObject[];
  const key = (family: string, table: string, chain: string) => `${family}\0${table}\0${chain}`;
  const chains = new Map<string, NftChain>();
  for (const { chain: c } of objects) {
    if (c) chains.set(key(c.family, c.table, c.name), { family: c.family, table: c.table, name: c.name, hook: c.hook, policy: c.policy ?? "accept", rules: [] });
  }
  for (const { rule: r } of objects) {
    if (r) chains.get(key(r.family, r.table, r.chain))?.rules.push(r.expr ?? []);
  }
  return [...chains.values()];
}

/** Every chain hooked into forward, in any family and table, with its rules. */
export function forwardHookChains(ruleset: NftRuleset): NftChain[] {
  return nftChains(ruleset).filter((c) => c.hook === "forward");
}

/** The objects (table, chains, rules, …) of table `family name`, as `nft -j list table` gives them; null when it does not exist. */
export function tableObjects(ruleset: NftRuleset, family: string, name: string): unknown[] | null {
  const objects = (ruleset.nftables ?? []) as NftObject[];
  const mine = (o: NftObject) =>
    (o.table?.family === family && o.table.name === name) ||
    (o.chain?.family === family && o.chain.table === name) ||
    (o.rule?.family === family && o.rule.table === name);
  const found = objects.filter(mine);
  return found.some((o) => o.table !== undefined) ? found : null;
}
