import { test } from "node:test";
import assert from "node:assert/strict";
import { kubeProxyFacts, proxyTableFacts } from "./proxy-facts.ts";
import { rulesetFixture } from "./testing-services.ts";

test("weft's proxy table from a real ruleset: the four maps' keys", () => {
  assert.deepEqual(proxyTableFacts(rulesetFixture("ruleset-kube-proxy-nftables")), {
    elements: ["no-endpoint-services|10.106.62.145 . tcp . 80", "service-ips|10.96.0.1 . tcp . 443", "service-ips|10.97.192.231 . tcp . 80"],
  });
  assert.equal(proxyTableFacts({ nftables: [] }), null);
});

test("kube-proxy in nftables mode: its table and service-ips keys", () => {
  assert.deepEqual(kubeProxyFacts(rulesetFixture("ruleset-kube-proxy-nftables")), [{ where: "table ip kube-proxy", keys: ["10.96.0.1 . tcp . 443", "10.97.192.231 . tcp . 80"] }]);
});

test("kube-proxy in iptables mode (iptables-nft): KUBE-SERVICES rules' address, protocol and port", () => {
  const found = kubeProxyFacts(rulesetFixture("ruleset-kube-proxy-iptables"));
  const nat = found.find((f) => f.where.includes("table ip nat"));
  assert.deepEqual(nat?.keys, ["10.96.0.1 . tcp . 443", "10.97.192.231 . tcp . 80"]);
  assert.match(nat!.where, /^chain KUBE-SERVICES in table ip nat \(kube-proxy's iptables mode\)$/);
});

test("no kube-proxy: nothing", () => {
  assert.deepEqual(kubeProxyFacts({ nftables: [{ table: { family: "ip", name: "weft-proxy" } }] }), []);
});
