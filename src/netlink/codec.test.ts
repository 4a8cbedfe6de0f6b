import { test } from "node:test";
import assert from "node:assert/strict";
import { attrIpv4, attrMac, attrString, attrU32, decodeMessages, encodeMessage, ipv4Attr, parseAttrs, strAttr, u32Attr, u8Attr } from "./codec.ts";
import { NLA_F_NESTED } from "./constants.ts";

test("encodes a message with aligned, nested attributes and decodes it back", () => {
  const header = new Uint8Array(16);
  const msg = encodeMessage(16, 0x605, 7, header, [
    strAttr(3, "veth1"),
    { type: 18, nested: [strAttr(1, "veth"), u8Attr(9, 1)] },
    u32Attr(4, 1450),
    ipv4Attr(8, 0x0af40105),
  ]);
  assert.equal(msg.length % 4, 0);
  const [m] = decodeMessages(msg);
  assert.ok(m);
  assert.deepEqual([m.type, m.flags, m.seq], [16, 0x605, 7]);
  const attrs = parseAttrs(m.payload.subarray(16));
  assert.equal(attrString(attrs.get(3)), "veth1");
  assert.equal(attrU32(attrs.get(4)), 1450);
  assert.equal(attrIpv4(attrs.get(8)), 0x0af40105);
  const nested = parseAttrs(attrs.get(18)!);
  assert.equal(attrString(nested.get(1)), "veth");
  assert.deepEqual([...nested.get(9)!], [1]);
  // The nested flag is on the wire but stripped when parsing.
  const raw = new DataView(msg.buffer);
  let off = 32;
  off += (raw.getUint16(off, true) + 3) & ~3; // skip IFNAME
  assert.equal(raw.getUint16(off + 2, true), 18 | NLA_F_NESTED);
});

test("decodes several messages in one datagram and stops at a truncated one", () => {
  const a = encodeMessage(3, 2, 1, new Uint8Array(4));
  const b = encodeMessage(2, 0, 2, new Uint8Array(20));
  const buf = new Uint8Array(a.length + b.length + 8);
  buf.set(a, 0);
  buf.set(b, a.length);
  buf.set([200, 0, 0, 0], a.length + b.length); // claims 200 bytes, has 8
  assert.deepEqual(decodeMessages(buf).map((m) => m.seq), [1, 2]);
  assert.equal(attrMac(Uint8Array.of(0xde, 0xad, 0, 1, 2, 0x3f)), "de:ad:00:01:02:3f");
});
