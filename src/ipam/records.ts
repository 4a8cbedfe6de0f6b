/**
 * The IPAM store's file, `addresses`: one 512-byte line per record, so a
 * change rewrites one record in place (pwrite) and each record is one disk
 * sector, which a power loss leaves old or new, never half.
 *
 *     weft-ipam 2 last=10.244.1.7                              …spaces…\n   record 0: header
 *     10.244.1.7 <containerId> eth0 default/web                …spaces…\n   an allocation
 *                                                              …spaces…\n   a free record
 *
 * An allocation is "<address> <containerId> <ifname> <pod>", `-` when the
 * runtime gave no pod name. None of the four can hold a space: CNI_CONTAINERID
 * and CNI_IFNAME are validated (src/cni/env.ts), and the pod name has
 * anything outside printable ASCII replaced by "?". `last` is the address
 * handed out most recently; the next search starts after it.
 *
 * Why not rewrite a JSON file and rename it over the old one (version 1,
 * `allocations.json`): on ext4, renaming over an existing file starts
 * writeback of the new one (auto_da_alloc), and making a file costs a
 * journal transaction; together ~0.35 ms of every ADD on the dev machine,
 * where an in-place write of two records costs ~0.05 ms.
 */
import { tryParseIp } from "../lib/ipv4.ts";

/** Bytes per record, newline included: one 512-byte disk sector. */
export const RECORD = 512;

/** How record 0 begins; the version follows "weft-ipam". */
export const HEADER = "weft-ipam 2";

/** The longest CNI_CONTAINERID a record holds with the longest address and interface name. */
export const MAX_CONTAINER_ID = RECORD - 1 - "255.255.255.255".length - 15 - 3 - 1;

/** Who holds an address. */
export interface Owner {
  containerId: string;
  ifname: string;
  /** "namespace/name" of the pod, from CNI_ARGS, when the runtime gives it. */
  pod?: string;
}

export interface Allocation extends Owner {
  ip: string;
}

/** A parsed store: `slots[i]` is record i+1, undefined when free. */
export interface Table {
  last?: string;
  slots: Array<Allocation | undefined>;
}

/** Record 0, holding the cursor. */
export function formatHeader(last: string | undefined): string {
  return pad(last === undefined ? HEADER : `${HEADER} last=${last}`);
}

/**
 * An allocation's record, or a free one. A pod name that would not fit is
 * cut short (it is only shown by `weft status ipam`); the caller keeps
 * container IDs within MAX_CONTAINER_ID.
 */
export function formatRecord(a: Allocation | undefined): string {
  if (a === undefined) return pad("");
  const head = `${a.ip} ${a.containerId} ${a.ifname} `;
  return pad(head + printable(a.pod ?? "-").slice(0, RECORD - 1 - head.length));
}

/** Parses the whole file; throws an Error saying what is wrong, with the record number. */
export function parseTable(text: string): Table {
  if (!text.startsWith(HEADER) || (text.length > HEADER.length && text[HEADER.length] !== " ")) {
    throw new Error(`record 0 does not begin with "${HEADER}"`);
  }
  const header = words(text.slice(0, RECORD - 1));
  const last = header[2]?.startsWith("last=") ? header[2].slice(5) : undefined;
  if (header.length > 3 || (header.length === 3 && (last === undefined || tryParseIp(last) === undefined))) {
    throw new Error(`record 0 is not "${HEADER} last=<address>"`);
  }
  const slots: Array<Allocation | undefined> = [];
  // A record cut short by a crash while the file grew was never in use.
  for (let at = RECORD, i = 1; at + RECORD <= text.length; at += RECORD, i++) {
    const f = words(text.slice(at, at + RECORD - 1));
    if (f.length === 0) {
      slots.push(undefined);
      continue;
    }
    if (f.length !== 4 || tryParseIp(f[0]!) === undefined || text.charCodeAt(at + RECORD - 1) !== 10) throw new Error(`record ${i} is not "<address> <containerId> <ifname> <pod>"`);
    slots.push(f[3] === "-" ? { ip: f[0]!, containerId: f[1]!, ifname: f[2]! } : { ip: f[0]!, containerId: f[1]!, ifname: f[2]!, pod: f[3]! });
  }
  return last === undefined ? { slots } : { last, slots };
}

/** What an ADD needs to know of the file (see scanForAdd). */
export interface AddScan {
  last?: string;
  /** The address of every allocation, in record order. */
  used: number[];
  /** Addresses `owner` holds already. */
  held: number[];
  /** The first free record (1-based), or the record after the last. */
  freeRecord: number;
}

/**
 * Reads what an ADD needs, checking each record's shape and address but not
 * splitting records into words: on a node with 100 pods that is 100 look-ups instead
 * of 50 KB of text taken apart, in a process that lives a few ms. Throws
 * like parseTable.
 */
export function scanForAdd(text: string, owner: Owner): AddScan {
  const { last } = parseTable(text.slice(0, RECORD));
  const key = ` ${owner.containerId} ${owner.ifname} `;
  const used: number[] = [];
  const held: number[] = [];
  let freeRecord = 0;
  let i = 1;
  for (let at = RECORD; at + RECORD <= text.length; at += RECORD, i++) {
    const c = text.charCodeAt(at);
    if (c === 32 || c === 0) {
      if (freeRecord === 0) freeRecord = i;
      continue;
    }
    // Four words, each ended by a space, the record by its newline.
    const end = text.indexOf(" ", at);
    const e2 = end < 0 ? -1 : text.indexOf(" ", end + 1);
    const e3 = e2 < 0 ? -1 : text.indexOf(" ", e2 + 1);
    const whole = end > at && e2 > end + 1 && e3 > e2 + 1 && e3 + 1 < at + RECORD - 1 && text.charCodeAt(e3 + 1) !== 32 && text.charCodeAt(at + RECORD - 1) === 10;
    const ip = whole ? tryParseIp(text.slice(at, end)) : undefined;
    if (ip === undefined) throw new Error(`record ${i} is not "<address> <containerId> <ifname> <pod>"`);
    used.push(ip);
    if (text.startsWith(key, end)) held.push(ip);
  }
  const scan: AddScan = { used, held, freeRecord: freeRecord === 0 ? i : freeRecord };
  if (last !== undefined) scan.last = last;
  return scan;
}

/**
 * Version 1's allocations.json, {"version":1,"last":…,"allocations":{ip:owner}},
 * as a list; throws an Error saying what is wrong.
 */
export function parseVersion1(text: string): { last?: string; allocations: Allocation[] } {
  const state: unknown = JSON.parse(text);
  if (!isObject(state) || state.version !== 1 || !isObject(state.allocations)) throw new Error('expected {"version":1,"allocations":{…}}');
  const allocations = Object.entries(state.allocations).map(([ip, owner]): Allocation => {
    if (tryParseIp(ip) === undefined) throw new Error(`"${ip}" is not an IPv4 address`);
    if (!isObject(owner) || typeof owner.containerId !== "string" || typeof owner.ifname !== "string" || (owner.pod !== undefined && typeof owner.pod !== "string")) {
      throw new Error(`the owner of ${ip} is not {containerId, ifname[, pod]}`);
    }
    return typeof owner.pod === "string" ? { ip, containerId: owner.containerId, ifname: owner.ifname, pod: owner.pod } : { ip, containerId: owner.containerId, ifname: owner.ifname };
  });
  return typeof state.last === "string" ? { last: state.last, allocations } : { allocations };
}

/** `line` padded with spaces to a whole record ending in a newline. */
function pad(line: string): string {
  return `${line}${" ".repeat(RECORD - 1 - line.length)}\n`;
}

/**
 * The words of one record (without its newline). Native trimEnd and split,
 * not a loop over every character: the padding is most of each record, and
 * the plugin parses every record on each ADD.
 */
function words(record: string): string[] {
  // Zeros, not spaces, where a crash while the file grew left a record unwritten.
  const line = record.charCodeAt(0) === 0 ? "" : record.trimEnd();
  return line === "" ? [] : line.split(" ");
}

/** `s` with every character outside printable ASCII (space included) replaced by "?". */
function printable(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c > 32 && c < 127 ? s[i] : "?";
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
