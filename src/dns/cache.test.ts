import { test } from "node:test";
import assert from "node:assert/strict";
import type { Answer } from "dns-packet";
import { AnswerCache, cacheTtl } from "./cache.ts";

const a = (ttl: number): Answer => ({ name: "x.example", type: "A", class: "IN", ttl, data: "192.0.2.1" });
const soa = (ttl: number, minimum: number): Answer => ({
  name: "example", type: "SOA", class: "IN", ttl, data: { mname: "ns.example", rname: "h.example", serial: 1, refresh: 1, retry: 1, expire: 1, minimum },
});

test("the TTL an answer is kept for", () => {
  assert.equal(cacheTtl({ rcode: 0, answers: [a(30), a(10)], authorities: [], additionals: [] }), 10);
  assert.equal(cacheTtl({ rcode: 3, answers: [], authorities: [soa(300, 60)], additionals: [] }), 60);
  assert.equal(cacheTtl({ rcode: 0, answers: [], authorities: [soa(20, 60)], additionals: [] }), 20);
  assert.equal(cacheTtl({ rcode: 3, answers: [], authorities: [], additionals: [] }), 0);
  assert.equal(cacheTtl({ rcode: 2, answers: [], authorities: [soa(300, 60)], additionals: [] }), 0);
});

test("entries age, expire, are capped by maxTtl and bounded by size (least recently used first)", () => {
  let now = 1_000_000;
  const c = new AnswerCache(2, 100, () => now);
  assert.equal(c.put("k1", { rcode: 0, answers: [a(30)], authorities: [], additionals: [] }), 30);
  assert.equal(c.put("k2", { rcode: 0, answers: [a(500)], authorities: [], additionals: [] }), 100);
  now += 10_500;
  const hit = c.get("k1");
  assert.equal((hit?.answer.answers[0] as { ttl: number }).ttl, 20);
  assert.equal(hit?.remainingMs, 19_500);
  c.put("k3", { rcode: 0, answers: [a(30)], authorities: [], additionals: [] }); // evicts k2, the least recently used
  assert.equal(c.get("k2"), undefined);
  assert.ok(c.get("k1"));
  assert.equal(c.entries, 2);
  now += 20_000;
  assert.equal(c.get("k1"), undefined, "expired");
  assert.equal(new AnswerCache(0, 100).put("k", { rcode: 0, answers: [a(30)], authorities: [], additionals: [] }), 0);
});

test("a handle's touch gives the entry's age and counts as a use, and -1 once the entry expired, was evicted or replaced", () => {
  let now = 1_000_000;
  const c = new AnswerCache(2, 100, () => now);
  c.put("k1", { rcode: 0, answers: [a(30)], authorities: [], additionals: [] });
  c.put("k2", { rcode: 0, answers: [a(30)], authorities: [], additionals: [] });
  const h1 = c.peek("k1")!;
  const h2 = c.get("k2")!.handle;
  assert.equal(c.peek("nope"), undefined);
  now += 2_500;
  assert.equal(c.touch(h1), 2);
  c.put("k3", { rcode: 0, answers: [a(30)], authorities: [], additionals: [] }); // k2 is now the least recently used
  assert.equal(c.touch(h2), -1, "evicted");
  assert.equal(c.touch(h1), 2);
  c.put("k1", { rcode: 0, answers: [a(20)], authorities: [], additionals: [] });
  assert.equal(c.touch(h1), -1, "replaced");
  const h3 = c.peek("k3")!;
  now += 30_000;
  assert.equal(c.touch(h3), -1, "expired");
  assert.equal(c.entries, 1);
});

test("touch moves an entry in the LRU order at most once a second", () => {
  let now = 1_000_000;
  const c = new AnswerCache(2, 100, () => now);
  c.put("k1", { rcode: 0, answers: [a(30)], authorities: [], additionals: [] });
  c.put("k2", { rcode: 0, answers: [a(30)], authorities: [], additionals: [] });
  const h1 = c.peek("k1")!;
  now += 500;
  assert.equal(c.touch(h1), 0); // put half a second ago: not moved
  c.put("k3", { rcode: 0, answers: [a(30)], authorities: [], additionals: [] });
  assert.equal(c.touch(h1), -1, "k1 was still the least recently used");
  assert.ok(c.peek("k2"));
});
