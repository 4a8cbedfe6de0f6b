import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  INVALID_LEASE, LEASE_LOST, STORE_CLOSED, bySubnet, checkAttrs, checkOpen, checkSubnet, checkTtl, decodeLease,
  diffLeases, encodeLease, leaseLost, subnetFromKey, subnetKey, type Lease,
} from "./types.ts";

const lease = (subnet: string, node = "n1", expiresAt = 1_000): Lease => ({
  subnet,
  attrs: { node, publicIp: "192.168.125.101", backend: "vxlan", backendData: { vtepMac: "02:00:00:00:00:01" } },
  expiresAt,
});

describe("input checks", () => {
  test("subnets are canonical and valid", () => {
    assert.equal(checkSubnet("10.244.3.0/24"), "10.244.3.0/24");
    for (const bad of ["10.244.3.1/24", "10.244.3.0", "nope", "10.244.3.0/33"]) {
      assert.throws(() => checkSubnet(bad), { code: "INVALID_CIDR" });
    }
  });

  test("TTLs are whole seconds, at least 1", () => {
    checkTtl(1);
    for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => checkTtl(bad), { code: INVALID_LEASE });
  });

  test("attrs need a node name", () => {
    checkAttrs(lease("10.0.0.0/24").attrs);
    assert.throws(() => checkAttrs({ ...lease("10.0.0.0/24").attrs, node: "" }), { code: INVALID_LEASE });
  });

  test("a closed store says so", () => {
    checkOpen(false, "store x");
    assert.throws(() => checkOpen(true, "store x"), { code: STORE_CLOSED, message: "store x is closed" });
  });
});

describe("subnet keys", () => {
  const cases: Array<[string, string | undefined]> = [
    ["10.244.3.0-24", "10.244.3.0/24"],
    ["0.0.0.0-0", "0.0.0.0/0"],
    ["10.244.3.1-24", undefined], // host bits: not a key we would write
    ["10.244.3.0-024", undefined],
    ["10.244.3.0", undefined],
    ["config", undefined],
  ];
  for (const [key, subnet] of cases) {
    test(`${key} → ${subnet}`, () => {
      assert.equal(subnetFromKey(key), subnet);
      if (subnet) assert.equal(subnetKey(subnet), key);
    });
  }
});

describe("lease records", () => {
  test("round-trip, with backendData keys in a fixed order", () => {
    const l = lease("10.244.3.0/24");
    l.attrs.backendData = { z: "1", a: "2" };
    const text = encodeLease(l);
    assert.equal(text.indexOf('"a"') < text.indexOf('"z"'), true);
    assert.deepEqual(decodeLease(text, "10.244.3.0/24"), l);
  });

  test("anything but a lease on that subnet decodes to no lease", () => {
    const good = JSON.parse(encodeLease(lease("10.244.3.0/24"))) as Record<string, unknown>;
    const bad: unknown[] = [
      "{", '{"released":true}', "null", "[]",
      { ...good, subnet: "10.244.4.0/24" },
      { ...good, expiresAt: "soon" },
      { ...good, attrs: { ...(good["attrs"] as object), node: "" } },
      { ...good, attrs: { ...(good["attrs"] as object), backendData: { vtepMac: 1 } } },
    ];
    for (const b of bad) assert.equal(decodeLease(typeof b === "string" ? b : JSON.stringify(b), "10.244.3.0/24"), undefined);
  });
});

describe("diffLeases", () => {
  const a = lease("10.244.1.0/24");
  const b = lease("10.244.2.0/24");
  const m = (...ls: Lease[]): Map<string, Lease> => new Map(ls.map((l) => [l.subnet, l]));
  const cases: Array<{ name: string; before: Lease[]; after: Lease[]; events: unknown[] }> = [
    { name: "nothing changed", before: [a, b], after: [a, b], events: [] },
    { name: "a new lease", before: [a], after: [a, b], events: [{ type: "put", lease: b }] },
    { name: "a gone lease", before: [a, b], after: [b], events: [{ type: "delete", subnet: a.subnet }] },
    { name: "a renewal", before: [a], after: [{ ...a, expiresAt: 2_000 }], events: [{ type: "put", lease: { ...a, expiresAt: 2_000 } }] },
    { name: "the first view", before: [], after: [a, b], events: [{ type: "put", lease: a }, { type: "put", lease: b }] },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(diffLeases(m(...c.before), m(...c.after)), c.events));
});

test("leases sort by address, not text", () => {
  const subnets = ["10.244.10.0/24", "10.244.2.0/24", "10.244.2.0/23", "9.0.0.0/8"];
  assert.deepEqual(subnets.map((s) => lease(s)).sort(bySubnet).map((l) => l.subnet),
    ["9.0.0.0/8", "10.244.2.0/23", "10.244.2.0/24", "10.244.10.0/24"]);
});

test("a lost lease says whose and why, and what to do", () => {
  const err = leaseLost("10.244.3.0/24", "n1", "node n2 holds it");
  assert.equal(err.code, LEASE_LOST);
  assert.equal(err.message, "node n1 lost its lease on 10.244.3.0/24: node n2 holds it");
  assert.match(err.hint ?? "", /createIfAbsent/);
});
