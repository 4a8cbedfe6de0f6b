/**
 * Encoding and decoding of netlink messages and attributes (TLVs). Pure:
 * no sockets here, so it is unit-tested under Node while the plugin runs it
 * under Bun. Numbers are host byte order except where a field is an IPv4
 * address, which netlink carries in network byte order.
 */
import { NLA_F_NESTED, NLA_TYPE_MASK } from "./constants.ts";

/** A netlink attribute to encode: a type and either bytes or nested attributes. */
export type Attr = { type: number; data: Uint8Array } | { type: number; nested: Attr[] };

const align4 = (n: number): number => (n + 3) & ~3;

/** An attribute carrying a NUL-terminated string. */
export function strAttr(type: number, s: string): Attr {
  const bytes = new Uint8Array(s.length + 1);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return { type, data: bytes };
}

/** An attribute carrying a host-order u32. */
export function u32Attr(type: number, v: number): Attr {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, v >>> 0, true);
  return { type, data };
}

/** An attribute carrying one byte. */
export function u8Attr(type: number, v: number): Attr {
  const data = new Uint8Array(1);
  data[0] = v;
  return { type, data };
}

/** An attribute carrying an IPv4 address (network byte order). */
export function ipv4Attr(type: number, ip: number): Attr {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, ip >>> 0, false);
  return { type, data };
}

function attrsLength(attrs: Attr[]): number {
  let n = 0;
  for (const a of attrs) n += align4(4 + ("data" in a ? a.data.length : attrsLength(a.nested)));
  return n;
}

function writeAttrs(view: DataView, bytes: Uint8Array, offset: number, attrs: Attr[]): number {
  for (const a of attrs) {
    const start = offset;
    offset += 4;
    if ("data" in a) {
      bytes.set(a.data, offset);
      offset += a.data.length;
    } else {
      offset = writeAttrs(view, bytes, offset, a.nested);
    }
    view.setUint16(start, offset - start, true);
    view.setUint16(start + 2, "data" in a ? a.type : a.type | NLA_F_NESTED, true);
    offset = align4(offset);
  }
  return offset;
}

/** Encodes a fixed family header followed by attributes (a message payload, or a nested struct like VETH_INFO_PEER). */
export function encodePayload(header: Uint8Array, attrs: Attr[] = []): Uint8Array {
  const bytes = new Uint8Array(align4(header.length) + attrsLength(attrs));
  bytes.set(header, 0);
  writeAttrs(new DataView(bytes.buffer), bytes, align4(header.length), attrs);
  return bytes;
}

/** Encodes one netlink message: 16-byte header, the fixed family header, then attributes. */
export function encodeMessage(type: number, flags: number, seq: number, header: Uint8Array, attrs: Attr[] = []): Uint8Array {
  const payload = encodePayload(header, attrs);
  const bytes = new Uint8Array(16 + payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, bytes.length, true);
  view.setUint16(4, type, true);
  view.setUint16(6, flags, true);
  view.setUint32(8, seq, true);
  view.setUint32(12, 0, true);
  bytes.set(payload, 16);
  return bytes;
}

/** A decoded message: its header fields and its payload (family header + attributes). */
export interface Message {
  type: number;
  flags: number;
  seq: number;
  payload: Uint8Array;
}

/** Splits a datagram into messages. */
export function decodeMessages(buf: Uint8Array): Message[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Message[] = [];
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = view.getUint32(off, true);
    if (len < 16 || off + len > buf.length) break;
    out.push({ type: view.getUint16(off + 4, true), flags: view.getUint16(off + 6, true), seq: view.getUint32(off + 8, true), payload: buf.subarray(off + 16, off + len) });
    off += align4(len);
  }
  return out;
}

/** Parses a run of attributes into a map type → bytes (nested flag stripped). */
export function parseAttrs(buf: Uint8Array): Map<number, Uint8Array> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Map<number, Uint8Array>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = view.getUint16(off, true);
    if (len < 4 || off + len > buf.length) break;
    out.set(view.getUint16(off + 2, true) & NLA_TYPE_MASK, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

/** Reads a NUL-terminated string attribute. */
export function attrString(b: Uint8Array | undefined): string | undefined {
  if (!b) return undefined;
  // A plain loop: spreading a typed array runs a JS builtin that JSC
  // compiles on first use, which costs a short-lived plugin ~0.15 ms.
  let s = "";
  for (let i = 0; i < b.length && b[i] !== 0; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/** Reads a host-order u32 attribute. */
export function attrU32(b: Uint8Array | undefined): number | undefined {
  return b && b.length >= 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) : undefined;
}

/** Reads an IPv4 attribute (network order) as an unsigned number. */
export function attrIpv4(b: Uint8Array | undefined): number | undefined {
  return b && b.length === 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0, false) : undefined;
}

const HEX = "0123456789abcdef";

/** Formats a hardware address attribute as aa:bb:cc:dd:ee:ff. */
export function attrMac(b: Uint8Array | undefined): string | undefined {
  if (!b) return undefined;
  let s = "";
  for (let i = 0; i < b.length; i++) s += (i > 0 ? ":" : "") + HEX[b[i]! >> 4] + HEX[b[i]! & 15];
  return s;
}
