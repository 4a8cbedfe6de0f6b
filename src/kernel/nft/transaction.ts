/**
 * One nftables transaction: an ordered list of add / flush / delete
 * operations on one table's objects, rendered to the text of a single
 * `nft -f -` run, which the kernel applies whole or not at all.
 *
 * Consecutive element operations on the same set are written as one
 * statement (`add element ip t m { a, b, c }`), which nft parses much faster
 * than one statement per element.
 */
import { chainBody, checkName, countElements, elementKeyText, elementText, setBody, splitElements, type NftChain, type NftElement, type NftElementText, type NftSet, type NftTable } from "./objects.ts";

/** One operation, in the order it will be applied. */
export type NftOp =
  | { op: "add-table" }
  | { op: "delete-table" }
  | { op: "flush-table" }
  | { op: "add-chain"; chain: NftChain }
  | { op: "flush-chain"; chain: string }
  | { op: "delete-chain"; chain: string }
  | { op: "add-set"; set: NftSet }
  | { op: "flush-set"; set: string; map: boolean }
  | { op: "delete-set"; set: string; map: boolean }
  | { op: "add-element"; set: string; elements: (NftElement | NftElementText)[] }
  | { op: "delete-element"; set: string; elements: (NftElement | NftElementText)[] }
  | { op: "add-rule"; chain: string; rule: string };

/** Elements per statement: bounds the length of one line nft has to parse. */
const ELEMENTS_PER_LINE = 2000;

/** An ordered set of changes to one table. */
export class NftTransaction {
  readonly table: NftTable;
  readonly ops: NftOp[] = [];

  constructor(table: NftTable) {
    checkName("table", table.name);
    this.table = table;
  }

  /** Number of operations (an element statement counts its elements). */
  get size(): number {
    let n = 0;
    for (const o of this.ops) {
      if (o.op === "add-element" || o.op === "delete-element") for (const e of o.elements) n += countElements(e);
      else n++;
    }
    return n;
  }

  /** `add table`: creates the table, or does nothing when it exists. */
  addTable(): this {
    this.ops.push({ op: "add-table" });
    return this;
  }

  /** Deletes the table and everything in it; succeeds when it is already gone. */
  deleteTable(): this {
    this.ops.push({ op: "delete-table" });
    return this;
  }

  /** Removes every rule of every chain and every element of every set, keeping the declarations. */
  flushTable(): this {
    this.ops.push({ op: "flush-table" });
    return this;
  }

  /** `add chain`: creates the chain, or does nothing when it exists with the same declaration. */
  addChain(chain: NftChain): this {
    checkName("chain", chain.name);
    this.ops.push({ op: "add-chain", chain });
    return this;
  }

  flushChain(name: string): this {
    this.ops.push({ op: "flush-chain", chain: checkName("chain", name) });
    return this;
  }

  /** Deletes a chain; it must be empty and unreferenced once the transaction's earlier operations are applied. */
  deleteChain(name: string): this {
    this.ops.push({ op: "delete-chain", chain: checkName("chain", name) });
    return this;
  }

  /** `add set` / `add map`: creates it, or does nothing when it exists with the same declaration. */
  addSet(set: NftSet): this {
    checkName("set", set.name);
    this.ops.push({ op: "add-set", set });
    return this;
  }

  /** Removes every element of a set or map (nft spells the two differently, so it takes the declaration). */
  flushSet(set: Pick<NftSet, "name" | "value">): this {
    this.ops.push({ op: "flush-set", set: checkName("set", set.name), map: set.value !== undefined });
    return this;
  }

  /** Deletes a set or map; nothing may still refer to it once the earlier operations are applied. */
  deleteSet(set: Pick<NftSet, "name" | "value">): this {
    this.ops.push({ op: "delete-set", set: checkName("set", set.name), map: set.value !== undefined });
    return this;
  }

  /** Adds elements (objects, or element texts); an element whose key exists with another value is an error, so delete it first. */
  addElements(set: string, elements: readonly (NftElement | NftElementText)[]): this {
    return this.#elements("add-element", set, elements);
  }

  /** Deletes elements; each must exist. Only their keys are written. */
  deleteElements(set: string, elements: readonly (NftElement | NftElementText)[]): this {
    return this.#elements("delete-element", set, elements.map((e) => (typeof e === "string" ? splitElements(e).map(elementKeyText).join(", ") : { key: e.key })));
  }

  /** Appends a rule (an nft expression and statement, e.g. `ip saddr 10.0.0.1 jump mark-for-masquerade`). */
  addRule(chain: string, rule: string): this {
    this.ops.push({ op: "add-rule", chain: checkName("chain", chain), rule });
    return this;
  }

  #elements(op: "add-element" | "delete-element", set: string, given: readonly (NftElement | NftElementText)[]): this {
    const elements = given.filter((e) => e !== "");
    if (elements.length === 0) return this;
    checkName("set", set);
    const last = this.ops.at(-1);
    if (last && last.op === op && last.set === set) last.elements.push(...elements);
    else this.ops.push({ op, set, elements });
    return this;
  }

  /** The `nft -f` script; empty when there is nothing to do. */
  render(): string {
    const t = `${this.table.family} ${this.table.name}`;
    const out: string[] = [];
    for (const o of this.ops) {
      switch (o.op) {
        case "add-table":
          out.push(`add table ${t}`);
          break;
        case "delete-table":
          // Declaring the table first makes the delete valid whether or not it exists.
          out.push(`add table ${t}`, `delete table ${t}`);
          break;
        case "flush-table":
          out.push(`flush table ${t}`);
          break;
        case "add-chain":
          out.push(`add chain ${t} ${o.chain.name}${chainBody(o.chain)}`);
          break;
        case "flush-chain":
          out.push(`flush chain ${t} ${o.chain}`);
          break;
        case "delete-chain":
          out.push(`delete chain ${t} ${o.chain}`);
          break;
        case "add-set":
          out.push(`add ${o.set.value === undefined ? "set" : "map"} ${t} ${o.set.name}${setBody(o.set)}`);
          break;
        case "flush-set":
          out.push(`flush ${o.map ? "map" : "set"} ${t} ${o.set}`);
          break;
        case "delete-set":
          out.push(`delete ${o.map ? "map" : "set"} ${t} ${o.set}`);
          break;
        case "add-element":
        case "delete-element": {
          const verb = o.op === "add-element" ? "add" : "delete";
          // At most ELEMENTS_PER_LINE a line: an element text that would not fit is split (only a large one).
          let chunk: string[] = [];
          let n = 0;
          const put = (text: string, count: number) => {
            chunk.push(text);
            n += count;
            if (n >= ELEMENTS_PER_LINE) {
              out.push(`${verb} element ${t} ${o.set} { ${chunk.join(", ")} }`);
              chunk = [];
              n = 0;
            }
          };
          for (const e of o.elements) {
            const count = countElements(e);
            if (n + count <= ELEMENTS_PER_LINE) put(elementText(e), count);
            else for (const one of splitElements(elementText(e))) put(one, 1);
          }
          if (chunk.length) out.push(`${verb} element ${t} ${o.set} { ${chunk.join(", ")} }`);
          break;
        }
        case "add-rule":
          out.push(`add rule ${t} ${o.chain} ${o.rule}`);
          break;
      }
    }
    return out.length ? out.join("\n") + "\n" : "";
  }
}
