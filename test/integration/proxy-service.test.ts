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
    await lab.addAgentTable();
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

  test("ClusterIP over UDP: 200 datagrams from fresh sockets reach every backend, with the client's own IP", async () => {
    lab.service(svc("default", "dns", { clusterIPs: ["10.96.0.10"], ports: [{ name: "dns", port: 53, protocol: "UDP", targetPort: 5353 }] }));
    lab.slice(slice("default", "dns", "dns-a", ["dns:5353/UDP"], [ep(ip(10)), ep(ip(11)), ep(ip(12))]));
    await lab.sync();
    const t = await lab.probe(client, "udp", "10.96.0.10", 53, 200);
    assert.deepEqual(t.errors, {});
    const b = backends(t);
    assert.deepEqual([...b.names].sort(), ["b10", "b11", "b12"]);
    assert.deepEqual([...b.clients], [ip(2)]);
  });

  test("several ports; a named targetPort reaches pods that number it differently", async () => {
    lab.service(svc("default", "multi", { clusterIPs: ["10.96.0.21"], ports: [{ name: "http", port: 80, targetPort: "web" }, { name: "metrics", port: 9100 }] }));
    lab.slice(slice("default", "multi", "multi-a", ["http:8080", "metrics:9100"], [ep(ip(10)), ep(ip(11))]));
    lab.slice(slice("default", "multi", "multi-b", ["http:8081", "metrics:9100"], [ep(ip(13))]));
    await lab.sync();
    for (const port of [80, 9100]) {
      const t = await lab.probe(client, "tcp", "10.96.0.21", port, 90);
      assert.deepEqual(t.errors, {}, `port ${port}`);
      assert.deepEqual([...backends(t).names].sort(), ["b10", "b11", "b13"], `port ${port}`);
    }
  });

  test("no ready endpoint: refused at once (ECONNREFUSED), for TCP, UDP and the NodePort", async () => {
    lab.service(svc("default", "empty", { type: "NodePort", clusterIPs: ["10.96.0.22"], ports: [{ name: "t", port: 80, nodePort: 30022 }, { name: "u", port: 53, protocol: "UDP", nodePort: 30023 }] }));
    lab.slice(slice("default", "empty", "empty-a", ["t:8080", "u:5353/UDP"], [ep(ip(10), { ready: false })]));
    await lab.sync();
    const tcp = await lab.probe(client, "tcp", "10.96.0.22", 80, 5, 3000);
    assert.deepEqual(tcp.errors, { ECONNREFUSED: 5 });
    assert.ok(tcp.maxMs < 200, `refused within ${tcp.maxMs} ms`);
    const udp = await lab.probe(client, "udp", "10.96.0.22", 53, 3, 3000);
    assert.deepEqual(udp.errors, { ECONNREFUSED: 3 });
    const np = await lab.probe(lab.node2, "tcp", NODE_IP, 30022, 3, 3000);
    assert.deepEqual(np.errors, { ECONNREFUSED: 3 });
    assert.ok(np.maxMs < 200, `NodePort refused within ${np.maxMs} ms`);
  });

  test("an undefined port on a live ClusterIP is refused; an unallocated service address is dropped; ping gets no echo", async () => {
    const undefinedPort = await lab.probe(client, "tcp", "10.96.0.20", 81, 2, 2000);
    assert.deepEqual(undefinedPort.errors, { ECONNREFUSED: 2 });
    const unallocated = await lab.probe(client, "tcp", "10.96.5.5", 80, 1, 700);
    assert.deepEqual(unallocated.errors, { TIMEOUT: 1 });
    const ping = await run(createRunner(client), ["sh", "-c", "ping -c 1 -W 1 10.96.0.20 >/dev/null 2>&1; echo $?"]);
    assert.notEqual(ping.trim(), "0", "a ClusterIP does not answer ping");
  });

  test("NodePort from another node, the node itself, a pod and the outside host; cluster policy shows the node's address", async () => {
    lab.service(svc("default", "np", { type: "NodePort", clusterIPs: ["10.96.0.23"], ports: [{ name: "http", port: 80, nodePort: 30080 }] }));
    lab.slice(slice("default", "np", "np-a", ["http:8080"], [ep(ip(10), { nodeName: "n1" }), ep(ip(11), { nodeName: "n2" })]));
    await lab.sync();
    for (const [from, ns] of [["node2", lab.node2], ["node", lab.node], ["pod", client], ["outside", lab.out]] as const) {
      const t = await lab.probe(ns, "tcp", NODE_IP, 30080, 20);
      assert.deepEqual(t.errors, {}, from);
      const b = backends(t);
      assert.deepEqual([...b.names].sort(), ["b10", "b11"], from);
      assert.deepEqual([...b.clients], [GATEWAY], `${from}: masqueraded to the node's address on the pod network`);
    }
  });

  test("externalTrafficPolicy Local: source kept, no local endpoint drops, health check 200/503, this node's pods still served", async () => {
    const local = svc("default", "local", {
      type: "LoadBalancer", clusterIPs: ["10.96.0.24"], externalTrafficPolicy: "Local", healthCheckNodePort: 30091,
      ports: [{ name: "http", port: 80, nodePort: 30090 }],
    });
    lab.service(local);
    lab.slice(slice("default", "local", "local-a", ["http:8080"], [ep(ip(10), { nodeName: "n1" }), ep(ip(11), { nodeName: "n2" })]));
    await lab.sync();
    let t = await lab.probe(lab.node2, "tcp", NODE_IP, 30090, 20);
    assert.deepEqual(t.answers, { [`b10 ${NODE2_IP}`]: 20 }, "only the local endpoint, and it sees the client's address");
    let h = await lab.probe<{ status: number; body: string }>(lab.node2, "http", `http://${NODE_IP}:30091/`);
    assert.equal(h.status, 200);
    assert.equal(JSON.parse(h.body).localEndpoints, 1);

    lab.slice(slice("default", "local", "local-a", ["http:8080"], [ep(ip(11), { nodeName: "n2" })]));
    await lab.sync();
    t = await lab.probe(lab.node2, "tcp", NODE_IP, 30090, 1, 700);
    assert.deepEqual(t.errors, { TIMEOUT: 1 }, "no local endpoint: dropped");
    h = await lab.probe<{ status: number; body: string }>(lab.node2, "http", `http://${NODE_IP}:30091/`);
    assert.equal(h.status, 503);
    t = await lab.probe(client, "tcp", NODE_IP, 30090, 5);
    assert.deepEqual(t.answers, { [`b11 ${ip(2)}`]: 5 }, "a pod on this node reaches the remote endpoint");
    t = await lab.probe(client, "tcp", "10.96.0.24", 80, 5);
    assert.deepEqual(t.answers, { [`b11 ${ip(2)}`]: 5 }, "and so does its ClusterIP");
  });

  test("internalTrafficPolicy Local: only this node's endpoints; none here drops", async () => {
    lab.service(svc("default", "itl", { clusterIPs: ["10.96.0.25"], internalTrafficPolicy: "Local", ports: [{ name: "http", port: 80 }] }));
    lab.slice(slice("default", "itl", "itl-a", ["http:8080"], [ep(ip(10), { nodeName: "n1" }), ep(ip(11), { nodeName: "n2" }), ep(ip(12), { nodeName: "n2" })]));
    await lab.sync();
    let t = await lab.probe(client, "tcp", "10.96.0.25", 80, 40);
    assert.deepEqual(t.answers, { [`b10 ${ip(2)}`]: 40 });
    lab.slice(slice("default", "itl", "itl-a", ["http:8080"], [ep(ip(11), { nodeName: "n2" })]));
    await lab.sync();
    t = await lab.probe(client, "tcp", "10.96.0.25", 80, 1, 700);
    assert.deepEqual(t.errors, { TIMEOUT: 1 });
  });

  test("sessionAffinity ClientIP: a client sticks to one backend across source ports, until the timeout", async () => {
    lab.service(svc("default", "sticky", { clusterIPs: ["10.96.0.26"], sessionAffinity: "ClientIP", affinityTimeoutSeconds: 2, ports: [{ name: "http", port: 80 }] }));
    lab.slice(slice("default", "sticky", "sticky-a", ["http:8080"], [ep(ip(10)), ep(ip(11)), ep(ip(12))]));
    await lab.sync();
    const t = await lab.probe(client, "tcp", "10.96.0.26", 80, 60);
    assert.equal(Object.keys(t.answers).length, 1, JSON.stringify(t.answers));
    const sets = await run(createRunner(lab.node), ["nft", "list", "sets", "ip"]);
    assert.match(sets, new RegExp(`${ip(2).replace(/\./g, "\\.")} expires`), "the client's address is in one affinity set with a timeout");
    await until("the affinity entry to expire", async () => !(await run(createRunner(lab.node), ["nft", "list", "sets", "ip"])).includes(`${ip(2)} expires`), 5000, 200);
  });

  test("hairpin: a pod reaches itself through its own Service", async () => {
    lab.service(svc("default", "self", { clusterIPs: ["10.96.0.27"], ports: [{ name: "http", port: 80 }] }));
    lab.slice(slice("default", "self", "self-a", ["http:8080"], [ep(ip(10))]));
    await lab.sync();
    const t = await lab.probe(pods[10]!, "tcp", "10.96.0.27", 80, 5);
    assert.deepEqual(t.answers, { [`b10 ${GATEWAY}`]: 5 }, "masqueraded, so the reply comes back through the node");
  });

  test("external IPs and VIP load-balancer IPs are captured, Proxy ones are not; loadBalancerSourceRanges guard the LB IP", async () => {
    await run(createRunner(lab.node2), ["ip", "route", "add", "203.0.113.0/24", "via", NODE_IP]);
    await run(createRunner(lab.out), ["ip", "route", "add", "203.0.113.0/24", "via", NODE_IP]);
    lab.service(svc("default", "lb", {
      type: "LoadBalancer", clusterIPs: ["10.96.0.28"], externalIPs: ["203.0.113.50"],
      loadBalancerIngress: [{ ip: "203.0.113.60", ipMode: "VIP" }, { ip: "203.0.113.61", ipMode: "Proxy" }],
      loadBalancerSourceRanges: ["192.168.125.1/32"],
      ports: [{ name: "http", port: 80, nodePort: 30100 }],
    }));
    lab.slice(slice("default", "lb", "lb-a", ["http:8080"], [ep(ip(10))]));
    await lab.sync();
    assert.deepEqual((await lab.probe(lab.node2, "tcp", "203.0.113.50", 80, 3)).answers, { [`b10 ${GATEWAY}`]: 3 }, "external IP");
    assert.deepEqual((await lab.probe(lab.out, "tcp", "203.0.113.60", 80, 3)).answers, { [`b10 ${GATEWAY}`]: 3 }, "LB IP from an allowed source");
    assert.deepEqual((await lab.probe(lab.node2, "tcp", "203.0.113.60", 80, 1, 700)).errors, { TIMEOUT: 1 }, "LB IP from a source outside the ranges");
    const map = await run(createRunner(lab.node), ["nft", "list", "map", "ip", "weft-proxy", "service-ips"]);
    assert.match(map, /203\.0\.113\.60 \. tcp \. 80/);
    assert.doesNotMatch(map, /203\.0\.113\.61/, "ipMode Proxy: the balancer proxies, the node does not capture");
  });

  test("endpoint health: not-ready endpoints get nothing; with none ready, serving-terminating ones serve", async () => {
    lab.service(svc("default", "health", { clusterIPs: ["10.96.0.29"], ports: [{ name: "http", port: 80 }] }));
    lab.slice(slice("default", "health", "health-a", ["http:8080"], [ep(ip(10)), ep(ip(11), { ready: false }), ep(ip(12), { ready: false, serving: true, terminating: true })]));
    await lab.sync();
    let t = await lab.probe(client, "tcp", "10.96.0.29", 80, 30);
    assert.deepEqual(t.answers, { [`b10 ${ip(2)}`]: 30 }, "only the ready one");
    lab.slice(slice("default", "health", "health-a", ["http:8080"], [ep(ip(11), { ready: false }), ep(ip(12), { ready: false, serving: true, terminating: true })]));
    await lab.sync();
    t = await lab.probe(client, "tcp", "10.96.0.29", 80, 30);
    assert.deepEqual(t.answers, { [`b12 ${ip(2)}`]: 30 }, "the terminating one that still serves, not the unready one");
  });
});
