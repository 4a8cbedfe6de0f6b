import { test } from "node:test";
import assert from "node:assert/strict";
import { kubeProxyFacts } from "../proxy-facts.ts";
import { fakeCluster } from "../testing.ts";
import { rulesetFixture, withProxy } from "../testing-services.ts";
import { checkKubeProxy } from "./kube-proxy.ts";

const judge = (setUp: (n: ReturnType<typeof fakeCluster>["nodes"][number]) => void) => {
  const cluster = fakeCluster(1);
  const node = cluster.nodes[0]!;
  setUp(node);
  return checkKubeProxy(node, cluster);
};

test("kube-proxy: both proxies programming the same Services fail, in nftables and in iptables mode", () => {
  // kube-proxy's nftables mode lists a Service without endpoints in a map of its own, not in service-ips; its iptables mode rejects it in filter's KUBE-SERVICES.
  for (const [fixture, where, both] of [
    ["ruleset-kube-proxy-nftables", /^kube-proxy \(table ip kube-proxy\) and/, /both program 2 service addresses, e\.g\. 10\.96\.0\.1:443\/TCP and 10\.97\.192\.231:80\/TCP/],
    ["ruleset-kube-proxy-iptables", /^kube-proxy \(chain KUBE-SERVICES in table ip nat .* and chain KUBE-SERVICES in table ip filter/, /both program 3 service addresses, e\.g\. 10\.96\.0\.1:443\/TCP, 10\.97\.192\.231:80\/TCP and 10\.106\.62\.145:80\/TCP/],
  ] as const) {
    const [f] = judge((n) => withProxy(n, fixture));
    assert.equal(f!.status, "fail", fixture);
    assert.match(f!.message, where);
    assert.match(f!.message, both);
    assert.match(f!.fix!, /"serviceProxy": false .* or remove kube-proxy/);
  }
});

test("kube-proxy: alone, or weft's proxy alone, is fine; leftover kube-proxy rules are a warning", () => {
  assert.deepEqual(judge(() => {}), []);
  const [alone] = judge((n) => {
    n.kernel.kubeProxy = { ok: true, value: kubeProxyFacts(rulesetFixture("ruleset-kube-proxy-nftables")) };
  });
  assert.deepEqual([alone!.status, alone!.message], ["ok", "kube-proxy serves Services here (table ip kube-proxy); weft's service proxy is off"]);
  const [weft] = judge((n) => {
    withProxy(n);
    n.kernel.kubeProxy = { ok: true, value: [] };
  });
  assert.equal(weft!.status, "ok");
  const [left] = judge((n) => {
    withProxy(n);
    n.kernel.kubeProxy = { ok: true, value: [{ where: "table ip kube-proxy", keys: [] }] };
  });
  assert.equal(left!.status, "warn");
  assert.match(left!.message, /translate no Service address weft's table does/);
});
