import { test } from "node:test";
import assert from "node:assert/strict";
import { forwardChains } from "./nft.ts";

test("forward chains are listed with their policy and drop or reject rules; other hooks are not", () => {
  const ruleset = {
    nftables: [
      { metainfo: { version: "1.0.6" } },
      { table: { family: "ip", name: "weft" } },
      { chain: { family: "ip", table: "weft", name: "forward", hook: "forward", policy: "accept" } },
      { chain: { family: "ip", table: "weft", name: "postrouting", hook: "postrouting", policy: "accept" } },
      { chain: { family: "inet", table: "fw", name: "fwd", hook: "forward", policy: "drop" } },
      { chain: { family: "inet", table: "fw", name: "helper" } },
      { rule: { family: "ip", table: "weft", chain: "forward", expr: [{ match: {} }, { accept: null }] } },
      { rule: { family: "inet", table: "fw", chain: "fwd", expr: [{ match: {} }, { drop: null }] } },
      { rule: { family: "inet", table: "fw", chain: "fwd", expr: [{ match: {} }, { reject: null }] } },
      { rule: { family: "inet", table: "fw", chain: "helper", expr: [{ drop: null }] } },
    ],
  };
  assert.deepEqual(forwardChains(ruleset), [
    { name: "ip weft forward", policy: "accept", dropRules: 0 },
    { name: "inet fw fwd", policy: "drop", dropRules: 2 },
  ]);
  assert.deepEqual(forwardChains({}), []);
});
