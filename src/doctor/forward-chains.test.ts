import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePrefix } from "../lib/ipv4.ts";
import { droppingPodTraffic, foreignForwardChains } from "./forward-chains.ts";

const cidr = parsePrefix("10.244.0.0/16");
const match = (field: string, addr: string, len: number) => ({ match: { op: "==", left: { payload: { protocol: "ip", field } }, right: { prefix: { addr, len } } } });
/** What `nft -j list ruleset` says for Docker's filter table, weft's table and a bridge-family chain. */
const ruleset = (filterRules: unknown[][]) => ({
  nftables: [
    { metainfo: { version: "1.0.6" } },
    { table: { family: "ip", name: "filter" } },
    { chain: { family: "ip", table: "filter", name: "FORWARD", type: "filter", hook: "forward", prio: 0, policy: "drop" } },
    { chain: { family: "ip", table: "filter", name: "DOCKER-USER" } },
    ...filterRules.map((expr) => ({ rule: { family: "ip", table: "filter", chain: "FORWARD", expr } })),
    { chain: { family: "ip", table: "weft", name: "forward", hook: "forward", policy: "accept" } },
    { rule: { family: "ip", table: "weft", chain: "forward", expr: [match("saddr", "10.244.0.0", 16), { accept: null }] } },
    { chain: { family: "bridge", table: "br", name: "fwd", hook: "forward", policy: "drop" } },
    { chain: { family: "inet", table: "fw", name: "fwd", hook: "forward", policy: "accept" } },
  ],
});

test("only other tables' ip/inet forward chains are kept, each with its own rules", () => {
  const chains = foreignForwardChains(ruleset([[{ jump: { target: "DOCKER-USER" } }]]));
  assert.deepEqual(chains.map((c) => [c.family, c.table, c.name, c.policy, c.rules.length]), [["ip", "filter", "FORWARD", "drop", 1], ["inet", "fw", "fwd", "accept", 0]]);
  assert.deepEqual(foreignForwardChains({}), []);
});

test("a drop policy drops pod traffic until the chain accepts the cluster CIDR both ways", () => {
  const dropping = (rules: unknown[][]) => droppingPodTraffic(foreignForwardChains(ruleset(rules)), cidr).map((c) => c.name);
  assert.deepEqual(dropping([]), ["FORWARD"]);
  assert.deepEqual(dropping([[match("saddr", "10.244.0.0", 16), { accept: null }]]), ["FORWARD"], "replies are still dropped");
  assert.deepEqual(dropping([[match("saddr", "10.245.0.0", 16), { accept: null }], [match("daddr", "10.245.0.0", 16), { accept: null }]]), ["FORWARD"], "another CIDR");
  assert.deepEqual(dropping([[match("saddr", "10.244.0.0", 16), { drop: null }], [match("daddr", "10.244.0.0", 16), { accept: null }]]), ["FORWARD"], "a drop is no accept");
  assert.deepEqual(dropping([[match("saddr", "10.244.0.0", 16), { accept: null }], [match("daddr", "10.244.0.0", 16), { accept: null }]]), []);
});
