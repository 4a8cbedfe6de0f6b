import { test } from "node:test";
import assert from "node:assert/strict";
import { forwardChains } from "./nft.ts";
import { parsePrefix } from "../lib/ipv4.ts";

const pods = parsePrefix("10.244.0.0/16");

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
  assert.deepEqual(forwardChains(ruleset, pods), [
    { name: "ip weft forward", policy: "accept", dropRules: 0, acceptsPods: false },
    { name: "inet fw fwd", policy: "drop", dropRules: 2, acceptsPods: false },
  ]);
  assert.deepEqual(forwardChains({}, pods), []);
});

test("a chain that accepts the cluster CIDR as source and destination spares pod traffic, as doctor judges it", () => {
  const accept = (field: string) => ({ rule: { family: "ip", table: "filter", chain: "FORWARD", expr: [{ match: { op: "==", left: { payload: { protocol: "ip", field } }, right: { prefix: { addr: "10.244.0.0", len: 16 } } } }, { accept: null }] } });
  const chain = { chain: { family: "ip", table: "filter", name: "FORWARD", hook: "forward", policy: "drop" } };
  assert.equal(forwardChains({ nftables: [chain, accept("saddr")] }, pods)[0]!.acceptsPods, false);
  assert.equal(forwardChains({ nftables: [chain, accept("saddr"), accept("daddr")] }, pods)[0]!.acceptsPods, true);
});
