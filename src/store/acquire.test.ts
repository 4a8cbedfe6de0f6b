import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WeftError } from "../lib/errors.ts";
import { EmbeddedStore } from "./embedded/store.ts";
import type { LeaseAttrs } from "./types.ts";
import { acquireLease, exhausted, freeSubnets, inRange, renewIntervalMs, SUBNET_EXHAUSTED, type SubnetRange } from "./acquire.ts";

const range: SubnetRange = { podCidr: "10.244.0.0/22", subnetLen: 24 };
const attrs = (node: string, publicIp = "192.168.125.1"): LeaseAttrs => ({ node, publicIp, backend: "vxlan", backendData: {} });
const first = () => 0;

function withStore(fn: (store: EmbeddedStore) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-lease-"));
    const store = new EmbeddedStore({ dir });
    try {
      await fn(store);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test("inRange and freeSubnets follow the CIDR, the length and min/max", () => {
  assert.equal(inRange(range, "10.244.3.0/24"), true);
  assert.equal(inRange(range, "10.244.4.0/24"), false);
  assert.equal(inRange(range, "10.244.1.0/25"), false);
  assert.equal(inRange({ ...range, subnetMin: "10.244.1.0", subnetMax: "10.244.2.0" }, "10.244.3.0/24"), false);
  assert.equal(inRange(range, "garbage"), false);
  const lease = { subnet: "10.244.1.0/24", attrs: attrs("a"), expiresAt: 0 };
  assert.deepEqual(freeSubnets(range, [lease]), ["10.244.0.0/24", "10.244.2.0/24", "10.244.3.0/24"]);
  // A lease of another length still blocks what it overlaps.
  const wide = { subnet: "10.244.2.0/23", attrs: attrs("b"), expiresAt: 0 };
  assert.deepEqual(freeSubnets(range, [lease, wide]), ["10.244.0.0/24"]);
});

test("a new node gets a free subnet, a restarted one its own again", withStore(async (store) => {
  const a = await acquireLease(store, { range, attrs: attrs("a", "10.0.0.1"), ttlSeconds: 60, pick: first });
  assert.deepEqual([a.origin, a.lease.subnet], ["new", "10.244.0.0/24"]);
  const b = await acquireLease(store, { range, attrs: attrs("b", "10.0.0.2"), ttlSeconds: 60, pick: first });
  assert.deepEqual([b.origin, b.lease.subnet], ["new", "10.244.1.0/24"]);
  // Restarted with another address: still node a, still its subnet, with the new address published.
  const again = await acquireLease(store, { range, attrs: attrs("a", "10.0.0.9"), ttlSeconds: 60, pick: first });
  assert.deepEqual([again.origin, again.lease.subnet, again.lease.attrs.publicIp], ["renewed", "10.244.0.0/24", "10.0.0.9"]);
  assert.equal((await store.list()).length, 2);
}));

test("a new lease carries the backend data for its subnet, so peers need no second write", withStore(async (store) => {
  const dataFor = (subnet: string) => ({ vtepMac: `mac-of-${subnet}` });
  const a = await acquireLease(store, { range, attrs: attrs("a"), dataFor, ttlSeconds: 60, pick: first });
  assert.deepEqual(a.lease.attrs.backendData, { vtepMac: "mac-of-10.244.0.0/24" });
}));

test("the previous subnet from the run directory is taken back when free, never when held", withStore(async (store) => {
  const a = await acquireLease(store, { range, attrs: attrs("a"), ttlSeconds: 60, previous: "10.244.2.0/24", pick: first });
  assert.deepEqual([a.origin, a.lease.subnet], ["previous", "10.244.2.0/24"]);
  const b = await acquireLease(store, { range, attrs: attrs("b"), ttlSeconds: 60, previous: "10.244.2.0/24", pick: first });
  assert.equal(b.origin, "new");
  assert.notEqual(b.lease.subnet, "10.244.2.0/24");
  assert.equal((await store.get("10.244.2.0/24"))?.attrs.node, "a");
}));

test("a lease outside a changed cluster CIDR is released and replaced", withStore(async (store) => {
  await acquireLease(store, { range, attrs: attrs("a"), ttlSeconds: 60, pick: first });
  const lines: string[] = [];
  const moved = await acquireLease(store, {
    range: { podCidr: "10.245.0.0/16", subnetLen: 24 }, attrs: attrs("a"), ttlSeconds: 60, pick: first, log: (l) => lines.push(l),
  });
  assert.equal(moved.lease.subnet, "10.245.0.0/24");
  assert.deepEqual((await store.list()).map((l) => l.subnet), ["10.245.0.0/24"]);
  assert.match(lines[0]!, /^releasing 10\.244\.0\.0\/24 now that 10\.245\.0\.0\/24 is held: it is outside 10\.245\.0\.0\/16/);
}));

// Issue 17, item 3: the old lease was released before a new one was held.
test("a lease outside the range is kept while no subnet of the new range can be leased", withStore(async (store) => {
  await acquireLease(store, { range, attrs: attrs("a"), ttlSeconds: 60, pick: first });
  await store.createIfAbsent("10.245.0.0/24", attrs("b"), 60);
  const lines: string[] = [];
  await assert.rejects(
    acquireLease(store, { range: { podCidr: "10.245.0.0/23", subnetLen: 24, subnetMax: "10.245.0.0" }, attrs: attrs("a"), ttlSeconds: 60, log: (l) => lines.push(l) }),
    (err: unknown) => {
      assert.ok(err instanceof WeftError);
      assert.equal(err.code, SUBNET_EXHAUSTED);
      assert.match(err.message, /; this node keeps its lease on 10\.244\.0\.0\/24 until it can lease in the range configured now$/);
      return true;
    },
  );
  assert.deepEqual(lines, []);
  assert.deepEqual((await store.list()).map((l) => [l.subnet, l.attrs.node]).sort(), [["10.244.0.0/24", "a"], ["10.245.0.0/24", "b"]]);
}));

test("an exhausted range says how many nodes hold leases and what to change", withStore(async (store) => {
  for (const n of ["a", "b", "c", "d"]) await acquireLease(store, { range, attrs: attrs(n), ttlSeconds: 60 });
  await assert.rejects(acquireLease(store, { range, attrs: attrs("e"), ttlSeconds: 60 }), (err: unknown) => {
    assert.ok(err instanceof WeftError);
    assert.equal(err.code, SUBNET_EXHAUSTED);
    assert.equal(err.message, "cannot lease a subnet: 10.244.0.0/22 has no free /24 left (4 nodes hold leases, 4 subnets in all)");
    assert.match(err.hint ?? "", /larger --pod-cidr/);
    return true;
  });
  assert.equal((await store.list()).length, 4);
}));

test("concurrent agents never share a subnet", withStore(async (store) => {
  const nodes = ["a", "b", "c", "d"];
  const got = await Promise.all(nodes.map((n) => acquireLease(store, { range, attrs: attrs(n), ttlSeconds: 60 })));
  assert.equal(new Set(got.map((g) => g.lease.subnet)).size, 4);
}));

test("exhausted names the min/max bounds when they narrow the range", () => {
  const e = exhausted({ ...range, subnetMin: "10.244.1.0", subnetMax: "10.244.2.0" }, 2);
  assert.equal(e.message, "cannot lease a subnet: 10.244.0.0/22 has no free /24 left between 10.244.1.0 and 10.244.2.0 (2 nodes hold leases, 2 subnets in all)");
});

test("a subnet over a network the node is attached to is never leased, and an own lease there is replaced", withStore(async (store) => {
  const lan = { podCidr: "192.168.124.0/22", subnetLen: 24 };
  const avoid = [{ base: (192 << 24 | 168 << 16 | 125 << 8) >>> 0, len: 24 }];
  assert.deepEqual(freeSubnets({ ...lan, avoid }, []), ["192.168.124.0/24", "192.168.126.0/24", "192.168.127.0/24"]);
  await store.createIfAbsent("192.168.125.0/24", attrs("a"), 60);
  const lines: string[] = [];
  const moved = await acquireLease(store, { range: { ...lan, avoid }, attrs: attrs("a"), ttlSeconds: 60, pick: first, log: (l) => lines.push(l) });
  assert.equal(moved.lease.subnet, "192.168.124.0/24");
  assert.equal(await store.get("192.168.125.0/24"), undefined);
  assert.deepEqual(lines, ["releasing 192.168.125.0/24 now that 192.168.124.0/24 is held: it overlaps a network this node is attached to"]);
  // With every subnet of the CIDR on the node's networks, the error says so rather than blaming the leases.
  const e = exhausted({ podCidr: "192.168.125.0/24", subnetLen: 24, avoid }, 0);
  assert.match(e.message, /\(0 nodes hold leases, 1 subnets in all; subnets overlapping 192\.168\.125\.0\/24, networks this node is attached to, are not leased\)/);
  assert.match(e.hint!, /--pod-cidr that does not overlap the node's networks/);
}));

test("renewals come every third of the TTL, at most hourly", () => {
  assert.equal(renewIntervalMs(30), 10_000);
  assert.equal(renewIntervalMs(86_400), 3_600_000);
});
