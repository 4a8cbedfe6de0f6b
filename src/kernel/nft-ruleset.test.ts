import { test } from "node:test";
import assert from "node:assert/strict";
import { forwardHookChains, nftChains, tableObjects } from "./nft-ruleset.ts";

const ruleset = {
  nftables: [
    { metainfo: { version: "1.0.6" } },
    { table: { family: "ip", name: "weft" } },
    { chain: { family: "ip", table: "weft", name: "forward", hook: "forward", policy: "accept" } },
    { chain: { family: "ip", table: "weft", name: "postrouting", hook: "postrouting" } },
    { rule: { family: "ip", table: "weft", chain: "forward", expr: [{ accept: null }] } },
    { table: { family: "inet", name: "weft" } },
    { chain: { family: "inet", table: "weft", name: "forward", hook: "forward" } },
  ],
};

test("forward-hook chains of every family and table, each with its rules' statements", () => {
  assert.deepEqual(forwardHookChains(ruleset), [
    { family: "ip", table: "weft", name: "forward", hook: "forward", policy: "accept", rules: [[{ accept: null }]] },
    { family: "inet", table: "weft", name: "forward", hook: "forward", policy: "accept", rules: [] },
  ]);
});

test("every chain, hooked or not, keeps its own rules when tables share chain names", () => {
  assert.deepEqual(nftChains(ruleset).map((c) => [c.family, c.name, c.hook, c.rules.length]), [["ip", "forward", "forward", 1], ["ip", "postrouting", "postrouting", 0], ["inet", "forward", "forward", 0]]);
});

test("one table's objects, by family and name; null when the table is not there", () => {
  assert.equal(tableObjects(ruleset, "ip", "weft")?.length, 4);
  assert.equal(tableObjects(ruleset, "inet", "weft")?.length, 2);
  assert.equal(tableObjects(ruleset, "ip", "filter"), null);
  assert.equal(tableObjects({}, "ip", "weft"), null);
});
