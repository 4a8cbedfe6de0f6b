/**
 * From policy plans to transactions on `inet weft-policy`:
 *
 *   - fullSync: declares everything, empties and refills every chain and
 *     set, and deletes what the previous plan had that this one has not;
 *     with `rebuild` the table is deleted first (first sync, or a table the
 *     kernel holds differently from any plan, e.g. after a refused sync).
 *   - diffPlans: only what changed: new sets and chains, element changes,
 *     rewritten chains, removed chains and sets.
 *
 * Order: nothing is deleted while referenced, nothing referenced before it
 * exists: new sets and chains are declared, element deletions (a vmap
 * element leaving stops the jump to a chain about to go), changed and new
 * chains' rules, element additions, then gone chains and sets.
 */
import type { NftElement } from "../kernel/nft/objects.ts";
import { NftTransaction } from "../kernel/nft/transaction.ts";
import { TABLE, type PlannedChain, type PlannedSet, type PolicyPlan } from "./compile.ts";

/** The transaction making the table exactly `next`; `prev` is the last plan applied (for its stale objects). */
export function fullSync(next: PolicyPlan, prev: PolicyPlan | undefined, rebuild: boolean): NftTransaction {
  const tx = new NftTransaction(TABLE);
  if (rebuild) tx.deleteTable();
  tx.addTable();
  for (const s of next.sets.values()) tx.addSet(s.set);
  for (const c of next.chains.values()) tx.addChain(c.chain);
  if (!rebuild) {
    for (const s of next.sets.values()) tx.flushSet(s.set);
    for (const name of next.chains.keys()) tx.flushChain(name);
    if (prev) {
      const stale = [...prev.chains.keys()].filter((n) => !next.chains.has(n));
      for (const n of stale) tx.flushChain(n);
      for (const n of stale) tx.deleteChain(n);
      for (const [n, s] of prev.sets) if (!next.sets.has(n)) tx.deleteSet(s.set);
    }
  }
  for (const c of next.chains.values()) for (const r of c.rules) tx.addRule(c.chain.name, r);
  for (const s of next.sets.values()) tx.addElements(s.set.name, s.elements);
  return tx;
}

/** The transaction turning the table of plan `prev` into that of `next`. */
export function diffPlans(prev: PolicyPlan, next: PolicyPlan): NftTransaction {
  const tx = new NftTransaction(TABLE);
  const newChains: PlannedChain[] = [];
  const changed: PlannedChain[] = [];
  for (const [name, c] of next.chains) {
    const old = prev.chains.get(name);
    if (!old) newChains.push(c);
    else if (!sameRules(old.rules, c.rules)) changed.push(c);
  }
  const newSets: PlannedSet[] = [];
  const del = new Map<string, NftElement[]>();
  const add = new Map<string, NftElement[]>();
  for (const [name, s] of next.sets) {
    const old = prev.sets.get(name);
    if (!old) {
      newSets.push(s);
      if (s.elements.length) add.set(name, s.elements);
      continue;
    }
    const before = index(old.elements);
    const after = index(s.elements);
    const d: NftElement[] = [];
    const a: NftElement[] = [];
    for (const [k, e] of before) if (!sameElement(after.get(k), e)) d.push(e);
    for (const [k, e] of after) if (!sameElement(before.get(k), e)) a.push(e);
    if (d.length) del.set(name, d);
    if (a.length) add.set(name, a);
  }
  for (const s of newSets) tx.addSet(s.set);
  for (const c of newChains) tx.addChain(c.chain);
  for (const [set, list] of del) tx.deleteElements(set, list);
  for (const c of changed) tx.flushChain(c.chain.name);
  for (const c of [...changed, ...newChains]) for (const r of c.rules) tx.addRule(c.chain.name, r);
  for (const [set, list] of add) tx.addElements(set, list);
  const gone = [...prev.chains.keys()].filter((n) => !next.chains.has(n));
  for (const n of gone) tx.flushChain(n);
  for (const n of gone) tx.deleteChain(n);
  for (const [n, s] of prev.sets) if (!next.sets.has(n)) tx.deleteSet(s.set);
  return tx;
}

function index(list: readonly NftElement[]): Map<string, NftElement> {
  const m = new Map<string, NftElement>();
  for (const e of list) m.set(e.key.join(" . "), e);
  return m;
}

function sameElement(a: NftElement | undefined, b: NftElement): boolean {
  return a !== undefined && a.value === b.value;
}

function sameRules(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((r, i) => r === b[i]);
}
