/**
 * From plans to transactions on `ip weft-proxy`:
 *
 *   - fullSync: declares everything, empties and refills every chain and
 *     map, and deletes what the previous plan had that this one has not.
 *     Affinity sets are declared but not emptied, so clients keep their
 *     backends. With `rebuild` the table is deleted first, for when the
 *     kernel's table is not what the previous plan says (drift, a restart).
 *   - diffPlans: only what changed between two plans. Services whose
 *     fragment is the same object in both are skipped without a look, so
 *     one changed Service among 10,000 costs a transaction of a few lines.
 *     A shared pick chain that no service uses any more is kept (with its
 *     rules, which depend on its name alone) until the next full sync, and
 *     reused when a service needs it again: its DNAT rule binds the
 *     endpoints map, and the kernel checks every element of a map at each
 *     new binding, 10–80 ms at 50,000 endpoints. Without that, a service
 *     going from 5 endpoints to 6 and back would pay it every time.
 *
 * Operations are ordered so that nothing is deleted while still referenced
 * and nothing is referenced before it exists: new sets and chains, element
 * deletions, rules, element additions, then chain and set deletions.
 */
import { elementKeyText, splitElements, type NftElementText, type NftSet } from "../kernel/nft/objects.ts";
import { NftTransaction } from "../kernel/nft/transaction.ts";
import { TABLE, type PlannedChain, type ProxyPlan, type ServiceFragment } from "./plan.ts";

/** A transaction and the services it touched. */
export interface SyncTx {
  tx: NftTransaction;
  /** Keys of the services whose rules changed (every service for a full sync). */
  services: string[];
  /** The chains the table keeps after this transaction that the plan does not need (unused shared pick chains). */
  kept: Set<string>;
}

/**
 * The transaction that makes the table exactly `next`; `prev` is the last
 * plan applied and `kept` the chains kept beside it (for the stale objects).
 */
export function fullSync(next: ProxyPlan, prev: ProxyPlan | undefined, rebuild: boolean, kept: ReadonlySet<string> = new Set()): SyncTx {
  const tx = new NftTransaction(TABLE);
  if (rebuild) tx.deleteTable();
  tx.addTable();
  const chains = allChains(next);
  const sets = allSets(next);
  for (const s of sets.values()) tx.addSet(s);
  for (const c of chains.values()) tx.addChain(c.chain);
  if (!rebuild) {
    for (const s of next.baseSets) tx.flushSet(s);
    for (const name of chains.keys()) tx.flushChain(name);
    if (prev) {
      const stale = [...new Set([...allChains(prev).keys(), ...kept])].filter((n) => !chains.has(n));
      for (const n of stale) tx.flushChain(n);
      for (const n of stale) tx.deleteChain(n);
      for (const [n, s] of allSets(prev)) if (!sets.has(n)) tx.deleteSet(s);
    }
  }
  for (const c of chains.values()) for (const r of c.rules) tx.addRule(c.chain.name, r);
  for (const s of next.baseSets) {
    const texts: NftElementText[] = [];
    for (const f of next.fragments.values()) {
      const t = f.elements.get(s.name);
      if (t) texts.push(t);
    }
    tx.addElements(s.name, texts);
  }
  return { tx, services: [...next.fragments.keys()], kept: new Set() };
}

/**
 * The transaction that turns the table of plan `prev` (with the unused
 * chains `kept`) into that of plan `next`. With `changed`, only those
 * services are compared (the keys of every service whose fragment may
 * differ between the two plans).
 */
export function diffPlans(prev: ProxyPlan, next: ProxyPlan, changed?: Iterable<string>, kept: ReadonlySet<string> = new Set()): SyncTx {
  const newSets: NftSet[] = [];
  const newChains: PlannedChain[] = [];
  const changedChains: PlannedChain[] = [];
  const goneChains: string[] = [];
  const goneSets: NftSet[] = [];
  const delElements = new Map<string, NftElementText[]>();
  const addElements = new Map<string, NftElementText[]>();
  const services: string[] = [];

  const stillKept = new Set(kept);
  const prevBase = new Map(prev.baseChains.map((c) => [c.chain.name, c]));
  for (const c of next.baseChains) {
    const old = prevBase.get(c.chain.name);
    if (stillKept.delete(c.chain.name)) continue; // a kept pick chain, in use again
    if (!old) newChains.push(c);
    else if (!sameRules(old.rules, c.rules)) changedChains.push(c);
  }
  // Shared pick chains no service sends to any more stay (see the top of the file).
  const nextBase = new Set(next.baseChains.map((c) => c.chain.name));
  for (const name of prevBase.keys()) if (!nextBase.has(name)) stillKept.add(name);

  let keys: string[];
  if (changed) keys = [...new Set(changed)];
  else {
    keys = [...next.fragments.keys()];
    for (const key of prev.fragments.keys()) if (!next.fragments.has(key)) keys.push(key);
  }
  for (const key of keys) {
    const a = prev.fragments.get(key);
    const b = next.fragments.get(key);
    if (a === b) continue;
    const before = a ?? EMPTY;
    const after = b ?? EMPTY;
    let changed = false;
    for (const [name, rules] of after.chains) {
      const old = before.chains.get(name);
      if (!old) newChains.push({ chain: { name }, rules });
      else if (!sameRules(old, rules)) changedChains.push({ chain: { name }, rules });
      else continue;
      changed = true;
    }
    for (const name of before.chains.keys()) {
      if (!after.chains.has(name)) {
        goneChains.push(name);
        changed = true;
      }
    }
    const afterSets = new Set(after.sets.map((s) => s.name));
    const beforeSets = new Set(before.sets.map((s) => s.name));
    for (const s of after.sets) if (!beforeSets.has(s.name)) newSets.push(s);
    for (const s of before.sets) if (!afterSets.has(s.name)) goneSets.push(s);
    for (const set of new Set([...before.elements.keys(), ...after.elements.keys()])) {
      const old = indexElements(before.elements.get(set));
      const now = indexElements(after.elements.get(set));
      // An element's text is its key and value: the same text, the same element.
      for (const [k, e] of old) {
        if (now.get(k) === e) continue;
        push(delElements, set, e);
        changed = true;
      }
      for (const [k, e] of now) {
        if (old.get(k) === e) continue;
        push(addElements, set, e);
        changed = true;
      }
    }
    if (changed) services.push(key);
  }

  const tx = new NftTransaction(TABLE);
  for (const s of newSets) tx.addSet(s);
  for (const c of newChains) tx.addChain(c.chain);
  for (const [set, list] of delElements) tx.deleteElements(set, list);
  for (const c of changedChains) tx.flushChain(c.chain.name);
  for (const c of [...changedChains, ...newChains]) for (const r of c.rules) tx.addRule(c.chain.name, r);
  for (const [set, list] of addElements) tx.addElements(set, list);
  for (const n of goneChains) tx.flushChain(n);
  for (const n of goneChains) tx.deleteChain(n);
  for (const s of goneSets) tx.deleteSet(s);
  return { tx, services, kept: stillKept };
}

const EMPTY: Pick<ServiceFragment, "chains" | "sets" | "elements"> = { chains: new Map(), sets: [], elements: new Map() };

function allChains(plan: ProxyPlan): Map<string, PlannedChain> {
  const out = new Map<string, PlannedChain>();
  for (const c of plan.baseChains) out.set(c.chain.name, c);
  for (const f of plan.fragments.values()) for (const [name, rules] of f.chains) out.set(name, { chain: { name }, rules });
  return out;
}

function allSets(plan: ProxyPlan): Map<string, NftSet> {
  const out = new Map<string, NftSet>();
  for (const s of plan.baseSets) out.set(s.name, s);
  for (const f of plan.fragments.values()) for (const s of f.sets) out.set(s.name, s);
  return out;
}

/** A set's elements (text) by their key. */
function indexElements(text: NftElementText | undefined): Map<string, NftElementText> {
  const m = new Map<string, NftElementText>();
  for (const e of splitElements(text ?? "")) m.set(elementKeyText(e), e);
  return m;
}

function push<T>(m: Map<string, T[]>, k: string, v: T): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function sameRules(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((r, i) => r === b[i]);
}
