import { test } from "node:test";
import assert from "node:assert/strict";
import type { Cluster, NodeFacts } from "../facts.ts";
import { fakeCluster, fakeKubeCluster } from "../testing.ts";
import { fixtureSlices, withProxy, withServices } from "../testing-services.ts";
import { checkServiceProxy } from "./service-proxy.ts";

type Case = [name: string, setUp: (n: NodeFacts, c: Cluster) => void, status: "ok" | "warn" | "fail" | null, message?: RegExp, fix?: RegExp];

const api = (c: Cluster) => (c.kubernetes as { ok: true; value: { slices: ReturnType<typeof fixtureSlices> } }).value;

const cases: Case[] = [
  ["proxy off, no table: said so", () => {}, "ok", /does not run here \(serviceProxy off\)/],
  ["proxy off, a table left behind", (n) => { withProxy(n); n.agent.services = { ok: false, error: "node1 runs no service proxy; …" }; }, "warn", /left with 3 service elements: it still translates Services/, /nft delete table ip weft-proxy/],
  ["the agent is down, no table: the agent check speaks", (n) => (n.agent.services = { ok: false, error: "cannot reach the weft agent at /x (connect ENOENT)" }), null],
  ["in step with the API", (n) => withProxy(n), "ok", /^table ip weft-proxy matches the API: 3 service ports, 3 map elements$/],
  ["not synced yet", (n) => { withProxy(n); (n.agent.services as { value: { synced: boolean } }).value.synced = false; }, "warn", /has not synced yet/, /list and watch on services and endpointslices/],
  ["table missing", (n) => { withProxy(n); n.kernel.proxyTable = { ok: true, value: null }; }, "fail", /missing although the service proxy runs: ClusterIPs and NodePorts of 3 service ports answer nothing/, /repairs the table/],
  ["an element deleted by hand", (n) => { withProxy(n); const t = n.kernel.proxyTable as { value: { elements: string[] } }; t.value.elements = t.value.elements.filter((e) => !e.includes("10.97.192.231")); }, "fail", /stale, behind the Services and EndpointSlices: missing 10\.97\.192\.231:80\/TCP$/],
  ["a Service gone from the API, still in the table", (_n, c) => { withProxy(c.nodes[0]!); const k = c.kubernetes!; if (k.ok) k.value.services = k.value.services.filter((s) => s.name !== "empty"); }, "fail", /left over 10\.106\.62\.145:80\/TCP \(refused\)/],
  ["endpoints behind the API", (_n, c) => { withProxy(c.nodes[0]!); api(c).slices[1]!.endpoints.pop(); }, "fail", /endpoints behind the API for default\/web\/tcp\/http \(10\.244\.0\.3:8080,10\.244\.1\.2:8080 programmed, 10\.244\.0\.3:8080 in the API\)/],
  ["the agent is down, its table behind the API", (n, c) => { withProxy(n); const down = { ok: false as const, error: "cannot reach the weft agent" }; n.agent = { health: down, ready: down, status: down, connections: down, policy: down, services: down }; api(c).slices[2]!.endpoints = [{ address: "10.244.0.9", ready: true, serving: true, terminating: false }]; api(c).slices[2]!.ports = [{ name: "", protocol: "TCP", port: 8080 }]; }, "fail", /missing 10\.106\.62\.145:80\/TCP; left over 10\.106\.62\.145:80\/TCP \(refused\)$/],
  ["cannot read nft", (n) => { withProxy(n); n.kernel.proxyTable = { ok: false, error: "nft: command not found" }; }, "fail", /cannot read table ip weft-proxy: nft: command not found/],
];

test("service-proxy check against the API (fixtures from a real lab)", () => {
  for (const [name, setUp, status, message, fix] of cases) {
    const cluster = fakeKubeCluster(2);
    withServices(cluster);
    const node = cluster.nodes[0]!;
    setUp(node, cluster);
    const found = checkServiceProxy(node, cluster);
    if (status === null) {
      assert.deepEqual(found, [], name);
      continue;
    }
    assert.equal(found.length, 1, name);
    assert.equal(found[0]!.status, status, `${name}: ${found[0]!.message}`);
    assert.match(found[0]!.message, message!, name);
    if (fix) assert.match(found[0]!.fix ?? "", fix, name);
  }
});

test("service-proxy check without the API: the table against the agent's view", () => {
  const cluster = fakeCluster(1);
  const node = cluster.nodes[0]!;
  withProxy(node);
  assert.match(checkServiceProxy(node, cluster)[0]!.message, /^table ip weft-proxy holds the agent's 3 service ports \(give doctor --kubeconfig/);
  const t = node.kernel.proxyTable as { value: { elements: string[] } };
  t.value.elements = t.value.elements.filter((e) => !e.includes("10.96.0.1 "));
  const [f] = checkServiceProxy(node, cluster);
  assert.deepEqual([f!.status, f!.message], ["fail", "table ip weft-proxy is stale: the agent programmed 10.96.0.1:443/TCP, which the table lacks"]);
});
