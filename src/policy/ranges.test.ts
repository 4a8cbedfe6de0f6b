import { test } from "node:test";
import assert from "node:assert/strict";
import { ipBlockRanges, rangeText, unionRanges } from "./ranges.ts";

test("ipBlockRanges: a CIDR minus its excepts", () => {
  assert.deepEqual(ipBlockRanges("10.0.0.0/24", ["10.0.0.64/26"]).map(rangeText), ["10.0.0.0-10.0.0.63", "10.0.0.128-10.0.0.255"]);
  assert.deepEqual(ipBlockRanges("10.0.0.0/30", ["10.0.0.0/32", "10.0.0.3/32"]).map(rangeText), ["10.0.0.1-10.0.0.2"]);
  assert.deepEqual(ipBlockRanges("10.0.0.0/24", ["10.0.0.0/16"]), []);
  assert.deepEqual(ipBlockRanges("0.0.0.0/0", []).map(rangeText), ["0.0.0.0-255.255.255.255"]);
  assert.deepEqual(ipBlockRanges("10.0.0.5/32", []).map(rangeText), ["10.0.0.5"]);
  assert.deepEqual(ipBlockRanges("fd00::/64", []), []);
  assert.throws(() => ipBlockRanges("10.0.0/8", []), /ipBlock.cidr/);
});

test("unionRanges merges overlapping and adjacent ranges", () => {
  const r = unionRanges([[5, 5], [1, 3], [4, 4], [10, 20], [12, 30], [40, 40]]);
  assert.deepEqual(r, [[1, 5], [10, 30], [40, 40]]);
  assert.deepEqual(unionRanges([]), []);
});
