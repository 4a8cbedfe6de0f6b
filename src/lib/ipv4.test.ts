import { test } from "node:test";
import assert from "node:assert/strict";
import { contains, formatIp, formatPrefix, lastOf, overlaps, parseInterfaceAddress, parseIp, parsePrefix, tryParseIp } from "./ipv4.ts";

test("parses and formats addresses", () => {
  for (const text of ["0.0.0.0", "10.244.1.1", "255.255.255.255", "192.168.125.101"]) {
    assert.equal(formatIp(parseIp(text)), text);
  }
  for (const bad of ["10.244.1", "256.1.1.1", "1.2.3.4.5", "01.2.3.4", "1.2.3.00", "a.b.c.d", "", ".1.2.3", "1.2.3.4.", "1..2.3", "1.2.3.1000", " 1.2.3.4", "1.2.3.4 ", "1.2.3.+4", "1.2.3.0x1", "１.2.3.4"]) {
    assert.equal(tryParseIp(bad), undefined, bad);
  }
});

test("parses prefixes and rejects host bits when strict", () => {
  assert.equal(formatPrefix(parsePrefix("10.244.0.0/16")), "10.244.0.0/16");
  assert.throws(() => parsePrefix("10.244.1.1/16"), /host bits are set \(did you mean 10.244.0.0\/16\?\)/);
  assert.equal(formatPrefix(parsePrefix("10.244.1.1/24", "subnet", false)), "10.244.1.0/24");
  for (const bad of ["10.244.0.0", "10.244.0.0/33", "10.244.0.0/x", "10.244.0.0/16/1", "10.244.0.0/", "10.244.0.0/016", "10.244.0.0/+8", "10.244.0.0/ 8"]) {
    assert.throws(() => parsePrefix(bad), /invalid IPv4 CIDR/, bad);
  }
});

test("prefix arithmetic", () => {
  const p = parsePrefix("10.244.3.0/24");
  assert.equal(formatIp(lastOf(p)), "10.244.3.255");
  assert.ok(contains(p, parseIp("10.244.3.77")));
  assert.ok(!contains(p, parseIp("10.244.4.1")));
  assert.ok(overlaps(parsePrefix("10.244.0.0/16"), p));
  assert.ok(!overlaps(parsePrefix("10.245.0.0/16"), p));
  const a = parseInterfaceAddress("10.244.3.1/24");
  assert.equal(formatIp(a.ip), "10.244.3.1");
  assert.equal(formatPrefix(a.prefix), "10.244.3.0/24");
});
