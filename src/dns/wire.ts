/**
 * DNS messages on the wire. Responses are encoded, and upstream answers
 * decoded, with `dns-packet` (mafintosh/dns-packet 5.6.1: the field's
 * well-kept codec, 60M+ downloads a month, plain JavaScript on Buffer, runs
 * unchanged on Node.js 24). It does not compress names, which makes answers
 * somewhat longer than a compressing server's; truncation below accounts
 * for that.
 *
 * Queries are read by hand instead (parseQuery, and quickQuestion for the
 * response memo's key): every query passes through here, and a query needs
 * only its header, question and EDNS0 OPT record read. Measured with
 * bench/dns-wire.ts on one core (fastest of 5 batches): dns-packet's decode
 * of a dig-style query 1.2 µs, parseQuery 0.64 µs, quickQuestion 0.12 µs.
 */
import * as packet from "dns-packet";
import type { Answer, Packet } from "dns-packet";
// dns-packet's type and class tables (its own modules; typed in dns-packet-tables.d.ts).
import packet_classes from "dns-packet/classes.js";
import packet_types from "dns-packet/types.js";

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type Rcode = keyof typeof RCODE;
/** Extended RCODE 16 (RFC 6891): an EDNS version this server does not speak. */
export const BADVERS = 16;

/** The largest UDP answer we offer in our OPT record (the DNS Flag Day 2020 size). */
export const OUR_UDP_SIZE = 1232;

/** What a query says, as parseQuery reads it. */
export interface Query {
  id: number;
  /** The header flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode). */
  flags: number;
  opcode: number;
  /** The question's name as sent, without the final dot ("" for the root). */
  name: string;
  qtype: number;
  qclass: number;
  /** The client's EDNS0 OPT record, or null without one. */
  edns: { udpSize: number; version: number; dnssecOk: boolean } | null;
}

/** Why a query cannot be answered normally. */
export type QueryProblem = { problem: "FORMERR" | "NOTIMP"; id: number; flags: number } | { problem: "IGNORE" };

const TYPE_OPT = 41;

/** Reads a query; a response, a runt or a malformed message is a QueryProblem. */
export function parseQuery(buf: Buffer): Query | QueryProblem {
  if (buf.length < 12) return { problem: "IGNORE" };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & 0x8000) return { problem: "IGNORE" };
  const opcode = (flags >> 11) & 0xf;
  const qd = buf.readUInt16BE(4);
  if (opcode !== 0) return { problem: "NOTIMP", id, flags };
  if (qd !== 1) return { problem: "FORMERR", id, flags };
  let off = 12;
  let name = "";
  for (;;) {
    if (off >= buf.length) return { problem: "FORMERR", id, flags };
    const len = buf[off]!;
    if (len === 0) {
      off++;
      break;
    }
    if (len > 63 || off + 1 + len > buf.length) return { problem: "FORMERR", id, flags };
    for (let i = off + 1; i <= off + len; i++) {
      const c = buf[i]!;
      // Printable ASCII without "." and "\\": anything else cannot be matched or echoed as text.
      if (c <= 0x20 || c >= 0x7f || c === 0x2e || c === 0x5c) return { problem: "FORMERR", id, flags };
    }
    name += (name === "" ? "" : ".") + buf.toString("latin1", off + 1, off + 1 + len);
    off += 1 + len;
  }
  if (off + 4 > buf.length || name.length > 253) return { problem: "FORMERR", id, flags };
  const qtype = buf.readUInt16BE(off);
  const qclass = buf.readUInt16BE(off + 2);
  off += 4;
  let edns: Query["edns"] = null;
  const rrs = buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10);
  const firstAdditional = buf.readUInt16BE(6) + buf.readUInt16BE(8);
  for (let i = 0; i < rrs; i++) {
    const end = skipName(buf, off);
    if (end < 0 || end + 10 > buf.length) return { problem: "FORMERR", id, flags };
    const type = buf.readUInt16BE(end);
    const rdlen = buf.readUInt16BE(end + 8);
    if (end + 10 + rdlen > buf.length) return { problem: "FORMERR", id, flags };
    if (type === TYPE_OPT && i >= firstAdditional) {
      if (edns !== null || end !== off + 1) return { problem: "FORMERR", id, flags };
      edns = { udpSize: buf.readUInt16BE(end + 2), version: buf[end + 5]!, dnssecOk: (buf.readUInt16BE(end + 6) & 0x8000) !== 0 };
    }
    off = end + 10 + rdlen;
  }
  return { id, flags, opcode, name, qtype, qclass, edns };
}

/**
 * The memo key of a plain query, read without decoding it: the question's
 * bytes as sent (name, type, class), after "E" with an EDNS0 version 0 OPT
 * record or "-" without; and the UDP answer size the query allows. Null
 * for anything else (more sections, other opcodes, other EDNS versions),
 * which takes the full parse.
 */
export function quickQuestion(buf: Buffer): { key: string; udpLimit: number } | null {
  const n = buf.length;
  // QR 0, opcode 0; one question, no answer or authority records.
  if (n < 17 || (buf[2]! & 0xf8) !== 0 || buf[4] !== 0 || buf[5] !== 1 || buf[6] !== 0 || buf[7] !== 0 || buf[8] !== 0 || buf[9] !== 0) return null;
  let off = 12;
  for (let len = buf[off]!; len !== 0; len = buf[off]!) {
    if (len > 63 || off + len + 1 >= n) return null;
    off += len + 1;
  }
  const end = off + 5;
  if (end > n || buf[10] !== 0) return null;
  if (buf[11] === 0) return end === n ? { key: "-" + buf.toString("latin1", 12, end), udpLimit: 512 } : null;
  // Exactly one additional record: OPT (type 41) owned by the root, EDNS version 0, its RDATA ending the message.
  if (buf[11] !== 1 || end + 11 > n || buf[end] !== 0 || buf[end + 1] !== 0 || buf[end + 2] !== TYPE_OPT || buf[end + 6] !== 0) return null;
  if (end + 11 + buf.readUInt16BE(end + 9) !== n) return null;
  return { key: "E" + buf.toString("latin1", 12, end), udpLimit: Math.max(512, buf.readUInt16BE(end + 3)) };
}

/** The offset after the name at `off`, or -1 if it runs past the message. */
function skipName(buf: Buffer, off: number): number {
  for (;;) {
    if (off >= buf.length) return -1;
    const len = buf[off]!;
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2 <= buf.length ? off + 2 : -1;
    if (len > 63) return -1;
    off += 1 + len;
  }
}

/**
 * Where the TTLs of an encoded message's records are: the offsets of their
 * 32-bit TTL fields in the answer, authority and additional sections,
 * the OPT record's left out (its "TTL" holds the extended rcode and
 * flags). The response memo (handler.ts) ages a forwarded answer by
 * patching these bytes instead of decoding and encoding it again.
 */
export function ttlOffsets(msg: Buffer): number[] {
  let off = 12;
  for (let i = msg.readUInt16BE(4); i > 0; i--) {
    const end = skipName(msg, off);
    if (end < 0) throw new Error(`ttlOffsets: a question runs past the ${msg.length}-byte message`);
    off = end + 4;
  }
  const rrs = msg.readUInt16BE(6) + msg.readUInt16BE(8) + msg.readUInt16BE(10);
  const offsets: number[] = [];
  for (let i = 0; i < rrs; i++) {
    const end = skipName(msg, off);
    if (end < 0 || end + 10 > msg.length) throw new Error(`ttlOffsets: record ${i} runs past the ${msg.length}-byte message`);
    if (msg.readUInt16BE(end) !== TYPE_OPT) offsets.push(end + 4);
    off = end + 10 + msg.readUInt16BE(end + 8);
  }
  return offsets;
}

/** The most bytes a UDP answer to `q` may have: the client's EDNS0 size, at least 512 (RFC 6891 6.2.5). */
export function udpLimit(q: Query): number {
  return q.edns === null ? 512 : Math.max(512, q.edns.udpSize);
}

export interface ResponseParts {
  rcode: number;
  /** Authoritative (our cluster zone and static hosts). */
  aa: boolean;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

/**
 * Encodes the response to `q`. With `limit` (UDP), an answer that does not
 * fit loses its ADDITIONAL section first (no TC needed: RFC 2181 9), then
 * as many records as it takes and gets the TC bit, so the client retries
 * over TCP.
 */
export function encodeResponse(q: Query, parts: ResponseParts, limit = 65535): Buffer {
  const extended = parts.rcode >> 4;
  const flags =
    (q.opcode << 11) | (parts.aa ? packet.AUTHORITATIVE_ANSWER : 0) | (q.flags & packet.RECURSION_DESIRED) | packet.RECURSION_AVAILABLE | (q.flags & packet.CHECKING_DISABLED) | (parts.rcode & 0xf);
  const opt: Answer[] = q.edns === null ? [] : [{ type: "OPT", name: ".", udpPayloadSize: OUR_UDP_SIZE, extendedRcode: extended, ednsVersion: 0, flags: 0 } as Answer];
  const msg: Packet = {
    type: "response",
    id: q.id,
    flags,
    questions: [{ name: q.name, type: typeName(q.qtype) as never, class: className(q.qclass) as never }],
    answers: parts.answers,
    authorities: parts.authorities,
    additionals: [...parts.additionals, ...opt],
  };
  const full = packet.encode(msg);
  if (full.length <= limit) return full;
  msg.additionals = opt;
  const noExtra = packet.encode(msg);
  if (noExtra.length <= limit) return noExtra;
  // Keep the records that fit, in order, and say the answer is truncated.
  msg.flags = flags | packet.TRUNCATED_RESPONSE;
  msg.authorities = [];
  const answers = parts.answers;
  let lo = 0;
  let hi = answers.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    msg.answers = answers.slice(0, mid);
    if (packet.encodingLength(msg) <= limit) lo = mid;
    else hi = mid - 1;
  }
  msg.answers = answers.slice(0, lo);
  return packet.encode(msg);
}

/** A response with no records: FORMERR, NOTIMP, SERVFAIL, REFUSED... (no question for FORMERR, whose question may be unreadable). */
export function encodeError(id: number, queryFlags: number, rcode: number, q: Query | null): Buffer {
  if (q !== null) return encodeResponse(q, { rcode, aa: false, answers: [], authorities: [], additionals: [] });
  const flags = (queryFlags & 0x7800) | (queryFlags & packet.RECURSION_DESIRED) | packet.RECURSION_AVAILABLE | (rcode & 0xf);
  return packet.encode({ type: "response", id, flags, questions: [], answers: [], authorities: [], additionals: [] });
}

/** dns-packet's name of a record type number ("A", "SRV", "UNKNOWN_65280"...). */
export function typeName(t: number): string {
  return packet_types.toString(t);
}

export function className(c: number): string {
  return packet_classes.toString(c);
}
