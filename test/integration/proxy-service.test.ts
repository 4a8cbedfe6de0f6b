/**
 * The service proxy in real namespaces (test/integration/proxy-topology.ts):
 * a node running the real ServiceProxy, pods on its bridge running real TCP
 * and UDP servers, another node and an outside host on the underlay.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { backends, GATEWAY, NODE2_IP, NODE_IP, ProxyLab, type Tally } from "./proxy-topology.ts";
import { ep, slice, svc } from "../../src/proxy/testing.ts";
import { createRunner, run } from "../../src/kernel/runner.ts";
import { until } from "../support/until.ts";
import { sleep } from "../../src/lib/sleep.ts";

describe("service proxy: ClusterIP, NodePort and policies in namespaces", { timeout: 120_000 }, () => {
  let lab: ProxyLab;
  let client: string;
  const pods: string[] = [];
  const ip = (k: number) => `10.244.1.${k}`;

  before(async () => {
    lab = new ProxyLab("svc");
    client = lab.addPod(2);
    for (const k of [10, 11, 12, 13]) pods[k] = lab.addPod(k);
    // b10..b12 serve "web" on 8080, b13 serves it on 8081 (a named targetPort numbered differently); all serve 9100 and UDP 5353.
    for (const k of [10, 11, 12]) await lab.serve(pods[k]!, `b${k}`, [8080, 9100], [5353]);
    await lab.serve(pods[13]!, "b13", [8081, 9100], [5353]);
    lab.startProxy();
    lab.send({ op: "synced" });
    await lab.sync();
  });
  after(() => lab.dispose());

  test("ClusterIP over TCP: 200 new connections reach every ready backend, which sees the client pod's own IP", async () => {
    lab.service(svc("default", "web", { clusterIPs: ["10.96.0.20"], ports: [{ name: "http", port: 80, targetPort: "web" }] }));
    lab.slice(slice("default", "web", "web-a", ["http:8080"], [ep(ip(10)), ep(ip(11)), ep(ip(12))]));
    await lab.sync();
    const t = await lab.probe(client, "tcp", "10.96.0.20", 80, 200);
    assert.deepEqual(t.errors, {});
    const b = backends(t);
    assert.deepEqual([...b.names].sort(), ["b10", "b11", "b12"]);
    assert.deepEqual([...b.clients], [ip(2)]);
    for (const n of Object.values(t.answers)) assert.ok(n >= 30, `each backend gets a fair share: ${JSON.stringify(t.answers)}`);
  });
});
