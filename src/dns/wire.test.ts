import { test } from "node:test";
import assert from "node:assert/strict";
import * as packet from "dns-packet";
import { ttlOffsets } from "./wire.ts";

test("ttlOffsets finds the TTL field of every record but OPT's, in all three sections", () => {
  const msg = packet.encode({
    type: "response", id: 7, flags: 0,
    questions: [{ name: "www.example.org", type: "A" }],
    answers: [
      { name: "www.example.org", type: "CNAME", class: "IN", ttl: 111, data: "web.example.org" },
      { name: "web.example.org", type: "A", class: "IN", ttl: 222, data: "192.0.2.1" },
    ],
    authorities: [{ name: "example.org", type: "NS", class: "IN", ttl: 333, data: "ns.example.org" }],
    additionals: [
      { name: "ns.example.org", type: "A", class: "IN", ttl: 444, data: "192.0.2.53" },
      { type: "OPT", name: ".", udpPayloadSize: 1232, extendedRcode: 1, ednsVersion: 0, flags: 0 } as never,
    ],
  });
  assert.deepEqual(ttlOffsets(msg).map((at) => msg.readUInt32BE(at)), [111, 222, 333, 444]);
  assert.deepEqual(ttlOffsets(packet.encode({ type: "response", id: 1, flags: 0, questions: [{ name: "x.example", type: "A" }] })), []);
  assert.throws(() => ttlOffsets(msg.subarray(0, msg.length - 30)), /runs past/);
});
