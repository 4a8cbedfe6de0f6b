/**
 * The nftables objects weft declares, as data: tables, chains (base chains
 * with their hook, priority and policy), sets and maps (verdict maps and
 * concatenated keys such as `ipv4_addr . inet_proto . inet_service`),
 * elements and rules. transaction.ts renders them into one `nft -f` script.
 *
 * Rules stay text (an nft expression plus statement), built by the owner's
 * own small helpers; everything around them (which table, which chain, how
 * an element or a set is spelled) is typed here, so no caller writes nft
 * syntax for declarations.
 */
import { WeftError } from "../../lib/errors.ts";

/** Error code: a name or value cannot be written into an nft script. */
export const NFT_BAD_OBJECT = "NFT_BAD_OBJECT";

/** Address families nft knows; weft uses `ip` and `inet`. */
export type NftFamily = "ip" | "ip6" | "inet" | "arp" | "bridge" | "netdev";

/** A table: the unit of ownership (one owner per table). */
export interface NftTable {
  family: NftFamily;
  name: string;
}

/** What makes a chain a base chain: the hook it is attached to. */
export interface BaseChainSpec {
  type: "filter" | "nat" | "route";
  hook: "prerouting" | "input" | "forward" | "output" | "postrouting" | "ingress";
  /** A number, or a standard name with an optional offset, e.g. `dstnat`, `dstnat - 10`. */
  priority: number | string;
  /** Default `accept`. */
  policy?: "accept" | "drop";
}

/** A chain; without `base` it is a regular chain reached by jump/goto or a verdict map. */
export interface NftChain {
  name: string;
  base?: BaseChainSpec;
  comment?: string;
}

/** A set, or a map when `value` is given (`verdict` makes a verdict map). */
export interface NftSet {
  name: string;
  /** The key's data types; more than one makes a concatenated key. With `typeOf`, the expressions whose types they are. */
  key: readonly string[];
  /** The value type of a map, e.g. `verdict`; absent for a set. With `typeOf`, an expression (e.g. `ip daddr . th dport`). */
  value?: string;
  /**
   * Declare by `typeof` (key and value are expressions, e.g. `numgen random
   * mod 1`, whose type has no name nft accepts after `type`).
   */
  typeOf?: boolean;
  flags?: readonly ("constant" | "interval" | "timeout" | "dynamic")[];
  /** Default timeout of elements, in seconds (needs the `timeout` flag). */
  timeoutSeconds?: number;
  /** Maximum number of elements (dynamic sets default to 65,535 in the kernel). */
  size?: number;
  comment?: string;
}

/** One element of a set or map: the key's parts in key order, and a map's value. */
export interface NftElement {
  key: readonly string[];
  value?: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
/** nft's limit on table, chain and set names (NFT_NAME_MAXLEN - 1). */
const MAX_NAME = 255;

/** Throws NFT_BAD_OBJECT unless `name` can stand unquoted as an nft identifier. */
export function checkName(kind: string, name: string): string {
  if (!NAME.test(name) || name.length > MAX_NAME) {
    throw new WeftError(NFT_BAD_OBJECT, `nft ${kind} name "${name}" is not a valid identifier`, {
      hint: "use letters, digits, _ . / - (starting with a letter or _), at most 255 characters",
    });
  }
  return name;
}

/** The declaration body of a chain, e.g. `{ type nat hook prerouting priority dstnat ; policy accept ; }`, or "" for a regular chain. */
export function chainBody(chain: NftChain): string {
  const parts: string[] = [];
  if (chain.base) {
    const b = chain.base;
    parts.push(`type ${b.type} hook ${b.hook} priority ${b.priority} ;`, `policy ${b.policy ?? "accept"} ;`);
  }
  if (chain.comment !== undefined) parts.push(`comment ${quote(chain.comment)} ;`);
  return parts.length ? ` { ${parts.join(" ")} }` : "";
}

/** The declaration body of a set or map, e.g. `{ type ipv4_addr . inet_service : verdict ; }`. */
export function setBody(set: NftSet): string {
  if (set.key.length === 0) throw new WeftError(NFT_BAD_OBJECT, `nft set "${set.name}" has no key type`);
  const parts = [`${set.typeOf ? "typeof" : "type"} ${set.key.join(" . ")}${set.value === undefined ? "" : ` : ${set.value}`} ;`];
  if (set.flags?.length) parts.push(`flags ${set.flags.join(",")} ;`);
  if (set.timeoutSeconds !== undefined) parts.push(`timeout ${set.timeoutSeconds}s ;`);
  if (set.size !== undefined) parts.push(`size ${set.size} ;`);
  if (set.comment !== undefined) parts.push(`comment ${quote(set.comment)} ;`);
  return ` { ${parts.join(" ")} }`;
}

/**
 * Elements already written as nft writes them inside `{ }`: one, or several
 * joined by ", " (`10.96.0.1 . tcp . 443 : goto svc-x, 10.96.0.2 . udp . 53 : drop`).
 * A plan of tens of thousands of elements holds them this way: one string
 * instead of an object, a key array and a value each. Keys and values must
 * hold no ", " and no " : " (addresses, protocols, numbers, verdicts do not).
 */
export type NftElementText = string;

/** An element as nft writes it: `10.96.0.1 . tcp . 443 : goto svc-x`. */
export function elementText(e: NftElement | NftElementText): string {
  if (typeof e === "string") return e;
  const key = e.key.join(" . ");
  return e.value === undefined ? key : `${key} : ${e.value}`;
}

/** The elements of an element text, one text each. */
export function splitElements(text: NftElementText): string[] {
  return text === "" ? [] : text.split(", ");
}

/** One element's key, as text: what comes before ` : `. */
export function elementKeyText(one: NftElementText): string {
  const i = one.indexOf(" : ");
  return i < 0 ? one : one.slice(0, i);
}

/** How many elements an element text holds. */
export function countElements(e: NftElement | NftElementText): number {
  if (typeof e !== "string") return 1;
  if (e === "") return 0;
  let n = 1;
  for (let i = e.indexOf(", "); i >= 0; i = e.indexOf(", ", i + 2)) n++;
  return n;
}

/** A double-quoted nft string (comments); quotes and line breaks are not allowed inside. */
export function quote(text: string): string {
  if (/["\n\r\\]/.test(text) || text.length > 128) {
    throw new WeftError(NFT_BAD_OBJECT, `nft comment ${JSON.stringify(text)} has a quote, backslash or line break, or is over 128 characters`);
  }
  return `"${text}"`;
}
