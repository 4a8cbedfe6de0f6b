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
 * runtime gave no pod name. Records are ASCII, so a character is a byte and
 * a record's place in the text is its place in the file: CNI_CONTAINERID is
 * validated (src/cni/env.ts), and in the interface and pod names anything
 * but printable ASCII (a space, "%", a control or non-ASCII character) is
 * written %-encoded, as UTF-8 bytes. `last` is the address handed out most
 * recently; the next search starts after it.
 *
 * Why not rewrite a JSON file and rename it over the old one (version 1,
 * `allocations.json`): on ext4, renaming over an existing file starts
 * writeback of the new one (auto_da_alloc), and making a file costs a
 * journal transaction; and the plugin, interpreted, took the whole state
 * apart and put it back together on every ADD. Measured on the dev machine
 * (the plugin run alone, version-1 build against this one): an ADD is
 * 0.35-0.5 ms faster on an empty node and 2.0-2.6 ms faster with 100 pods.
 */
import { formatIp, ipBeforeSpace, tryParseIp } from "../lib/ipv4.ts";

/** Bytes per record, newline included: one 512-byte disk sector. */
export const RECORD = 512;

/** How record 0 begins; the version follows "weft-ipam". */
const HEADER = "weft-ipam 2";

/**
 * The longest CNI_CONTAINERID a record holds with the longest address and
 * interface name (15 bytes, each %-encoded at worst).
 */
export const MAX_CONTAINER_ID = RECORD - 1 - "255.255.255.255".length - 15 * 3 - 3 - 1;

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
  const head = `${a.ip} ${a.containerId} ${encodeWord(a.ifname)} `;
  let pod = a.pod === undefined ? "-" : encodeWord(a.pod);
  // Cut characters, not their encoding, so what is left still decodes.
  for (let keep = (a.pod ?? "").length - 1; keep >= 0 && head.length + pod.length > RECORD - 1; keep--) pod = encodeWord(a.pod!.slice(0, keep));
  if (head.length + pod.length > RECORD - 1) throw new Error(`the record of ${a.ip} does not fit in ${RECORD} bytes (container ID of ${a.containerId.length} characters)`);
  return pad(head + pod);
}

/**
 * Parses the whole file (GC, CHECK, `weft status ipam`): checkRecords,
 * then every allocation taken apart. Throws an Error saying what is wrong,
 * with the record number.
 */
export function parseTable(text: string): Table {
  const last = parseHeader(text);
  checkRecords(text);
  const slots: Array<Allocation | undefined> = [];
  for (let i = 1; (i + 1) * RECORD <= text.length; i++) slots.push(parseRecord(text, i));
  return last === undefined ? { slots } : { last, slots };
}

/** Record 0: the cursor, undefined when no address was handed out yet; throws like parseTable. */
export function parseHeader(text: string): string | undefined {
  if (!text.startsWith(HEADER) || (text.length > HEADER.length && text[HEADER.length] !== " ")) {
    throw new Error(`record 0 does not begin with "${HEADER}"`);
  }
  const header = words(text.slice(0, RECORD - 1));
  const last = header[2]?.startsWith("last=") ? header[2].slice(5) : undefined;
  if (header.length > 3 || (header.length === 3 && (last === undefined || tryParseIp(last) === undefined)) || !text.startsWith(formatHeader(last))) {
    throw new Error(`record 0 is not "${HEADER} last=<address>" and spaces to byte 511, then a newline`);
  }
  return last;
}

/** Record `i` (not the header) of a whole file's text: its allocation, or undefined when free; throws like parseTable. */
export function parseRecord(text: string, i: number): Allocation | undefined {
  const at = i * RECORD;
  const f = words(text.slice(at, at + RECORD - 1));
  if (f.length === 0) return undefined;
  // Exactly as formatRecord writes it: four words, one space apart, then spaces (no other blank a trim would take).
  if (f.length !== 4 || tryParseIp(f[0]!) === undefined || !isPrintable(f[1]!) || !isPrintable(f[2]!) || !isPrintable(f[3]!) || !text.startsWith(pad(f.join(" ")), at)) {
    throw new Error(`record ${i} is not "<address> <containerId> <ifname> <pod>" in printable ASCII ${where(i)}`);
  }
  let ifname: string, pod: string | undefined;
  try {
    ifname = decodeWord(f[2]!);
    pod = f[3] === "-" ? undefined : decodeWord(f[3]!);
  } catch {
    throw new Error(`record ${i} has a malformed %-encoding ${where(i)}`);
  }
  return pod === undefined ? { ip: f[0]!, containerId: f[1]!, ifname } : { ip: f[0]!, containerId: f[1]!, ifname, pod };
}

/** A free record: spaces to byte 511, then a newline. */
const FREE = " ".repeat(RECORD - 1);
/** A record a crash left unwritten while the file grew: zeros. */
const ZEROS = "\u0000".repeat(RECORD);

/** Where record `i` lies in the file, for an error message. */
function where(i: number): string {
  return `(bytes ${i * RECORD}-${(i + 1) * RECORD - 1})`;
}

/**
 * Checks, in one pass, what ADD and DEL rely on when they search the text
 * instead of taking it apart (see below): every record is 511 characters
 * and a newline (or 512 zeros, see freeRecord), so each lies where its
 * number says; a free record is all spaces, so writing over it loses
 * nothing; every allocation begins with a valid address and a space, and
 * no address is in two records, so the addresses found are all that are
 * held. A tail shorter than a record must be zeros or spaces (a crash
 * while the file grew). Returns the addresses held.
 * Throws an Error naming the first bad record; the header is parseHeader's.
 *
 * It leaves each allocation's other words alone: a damaged container ID
 * or pod name misleads no ADD, and parseTable checks them.
 */
export function checkRecords(text: string): Set<number> {
  // Loops over native searches and compares, and a Set rather than a Map:
  // this runs on every ADD, over every record (~0.7 µs a record in the plugin).
  const held = new Set<number>();
  let prefix = "";
  let prefixIp = 0;
  for (let at = RECORD; at < text.length; at += RECORD) {
    const c = text.charCodeAt(at);
    if (at + RECORD > text.length) {
      if (!(c === 0 ? ZEROS : FREE).startsWith(text.slice(at))) throw new Error(`record ${at / RECORD} is cut short: ${text.length - at} of ${RECORD} bytes ${where(at / RECORD)}`);
      break;
    }
    if (c === 0) {
      if (!text.startsWith(ZEROS, at)) throw new Error(`record ${at / RECORD} begins with a zero byte but is not all zeros ${where(at / RECORD)}`);
      continue;
    }
    const nl = text.indexOf("\n", at);
    if (nl !== at + RECORD - 1) {
      const i = at / RECORD;
      throw new Error(
        nl >= 0 && nl < at + RECORD - 1
          ? `record ${i} ends after ${nl - at + 1} bytes, not ${RECORD} ${where(i)}: bytes were removed from it or a newline written into it, which moves every record after it`
          : `record ${i} has no newline at its byte ${RECORD - 1} ${where(i)}: bytes were added to it, which moves every record after it`,
      );
    }
    if (c === 32) {
      if (!text.startsWith(FREE, at)) throw new Error(`record ${at / RECORD} begins with a space but is not all spaces ${where(at / RECORD)}`);
      continue;
    }
    // Most records share their first three octets: only the last is read then.
    let ip = -1;
    if (prefix !== "" && text.startsWith(prefix, at)) {
      ip = prefixIp + lastOctet(text, at + prefix.length);
    } else {
      ip = ipBeforeSpace(text, at);
      if (ip >= 0) {
        prefix = text.slice(at, text.lastIndexOf(".", text.indexOf(" ", at)) + 1);
        prefixIp = ip - (ip % 256);
      }
    }
    if (ip < 0) throw new Error(`record ${at / RECORD} is not "<address> <containerId> <ifname> <pod>": it does not begin with an IPv4 address and a space ${where(at / RECORD)}`);
    if (held.has(ip)) throw new Error(`records ${recordOf(text, ip)} and ${at / RECORD} both hold ${formatIp(ip)} ${where(at / RECORD)}`);
    held.add(ip);
  }
  return held;
}

/** The octet at `at` that ends at a space, as ipBeforeSpace reads one; negative when there is none. */
function lastOctet(text: string, at: number): number {
  let octet = 0;
  for (let i = at; i < at + 4; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 && i > at) return octet <= 255 ? octet : -1e10;
    if (c < 48 || c > 57 || (i > at && octet === 0) || i === at + 3) return -1e10;
    octet = octet * 10 + c - 48;
  }
  return -1e10;
}

/** The first record that holds `ip` (for an error message). */
function recordOf(text: string, ip: number): number {
  let at = RECORD;
  while (at < text.length && ipBeforeSpace(text, at) !== ip) at += RECORD;
  return at / RECORD;
}

/** True when every character of `w` is printable ASCII (a word has no spaces). */
function isPrintable(w: string): boolean {
  for (let i = 0; i < w.length; i++) {
    const c = w.charCodeAt(i);
    if (c <= 32 || c >= 127) return false;
  }
  return true;
}

/*
 * ADD and DEL run once in a process that lives a few milliseconds, where
 * JavaScript is interpreted: taking 100 records apart costs it ~0.4 ms. So
 * they ask the text what they need with native string searches instead,
 * which depend on two facts of the format, which checkRecords checks
 * first: a record's first word is its address, and a newline ends every
 * record and appears nowhere else.
 */

/** The records `owner` holds: each one's number and address. */
export function heldBy(text: string, owner: Owner): Array<{ record: number; ip: number }> {
  const key = ` ${owner.containerId} ${encodeWord(owner.ifname)} `;
  const held: Array<{ record: number; ip: number }> = [];
  for (let at = text.indexOf(key, RECORD); at >= 0; at = text.indexOf(key, at + 1)) {
    // The key follows the address directly, or it is some other run of words.
    const start = at - (at % RECORD);
    const ip = tryParseIp(text.slice(start, at));
    if (ip !== undefined) held.push({ record: start / RECORD, ip });
  }
  return held;
}

/**
 * The first free record (a line of spaces, or of zeros), or the one after
 * the last. A loop over first characters: searching the text for "\n "
 * took Bun 0.17 ms on 100 records, this ~0.02 ms.
 */
export function freeRecord(text: string): number {
  let at = RECORD;
  for (; at + RECORD <= text.length; at += RECORD) {
    const c = text.charCodeAt(at);
    if (c === 32 || c === 0) break;
  }
  return at / RECORD;
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
 * GC, CHECK and STATUS parse every record.
 */
function words(record: string): string[] {
  // Zeros, not spaces, where a crash while the file grew left a record unwritten.
  const line = record.charCodeAt(0) === 0 ? "" : record.trimEnd();
  return line === "" ? [] : line.split(" ");
}

const utf8 = new TextEncoder();
const HEX = "0123456789ABCDEF";

/** `s` as one word of a record: printable ASCII but "%" as it is, any other character as its UTF-8 bytes %-encoded. */
function encodeWord(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 32 && c < 127 && c !== 37) {
      out += s[i];
      continue;
    }
    // A surrogate pair is one character; TextEncoder turns a lone one into U+FFFD.
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length;
    for (const b of utf8.encode(s.slice(i, pair ? i + 2 : i + 1))) out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
    if (pair) i++;
  }
  return out;
}

/** The inverse of encodeWord; throws URIError on a malformed encoding. */
function decodeWord(w: string): string {
  return w.includes("%") ? decodeURIComponent(w) : w;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
