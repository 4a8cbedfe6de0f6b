/**
 * The service proxy over time, in real namespaces: stale UDP conntrack
 * entries, drift repair, how fast a change reaches the kernel, restarts,
 * and the metrics the sync loop keeps.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { backends, ProxyLab } from "./proxy-topology.ts";
import { ep, slice, svc } from "../../src/proxy/testing.ts";
import { createRunner, run } from "../../src/kernel/runner.ts";
import { until } from "../support/until.ts";
import { sleep } from "../../src/lib/sleep.ts";

describe("service proxy over time: conntrack, drift, latency, restart", { timeout: 120_000 }, () => {
  let lab: ProxyLab;
  let client: string;
  const ip = (k: number) => `10.244.1.${k}`;
  const nft = (...args: string[]) => run(createRunner(lab.node), ["nft", ...args]);
  const DNS = svc("default", "dns", { clusterIPs: ["10.96.0.30"], ports: [{ name: "dns", port: 53, protocol: "UDP", targetPort: 5353 }] });
  const WEB = svc("default", "web", { clusterIPs: ["10.96.0.31"], ports: [{ name: "http", port: 80 }] });

  before(async () => {
    lab = new ProxyLab("life");
    client = lab.addPod(2);
    for (const k of [10, 11]) await lab.serve(lab.addPod(k), `b${k}`, [8080], [5353]);
    await lab.addAgentTable();
    lab.startProxy();
    lab.service(DNS);
    lab.slice(slice("default", "dns", "dns-a", ["dns:5353/UDP"], [ep(ip(10)), ep(ip(11))]));
    lab.service(WEB);
    lab.slice(slice("default", "web", "web-a", ["http:8080"], [ep(ip(10))]));
    lab.send({ op: "synced" });
    await lab.sync();
  });
  after(() => lab.dispose());

  test("a removed UDP backend: a client on a fixed source port reaches another one at once, not after the conntrack timeout", async () => {
    const first = await lab.probe(client, "udp", "10.96.0.30", 53, 3, 2000, 40000);
    assert.equal(Object.keys(first.answers).length, 1, "one flow, one backend");
    const [name] = [...backends(first).names];
    const keep = name === "b10" ? 11 : 10;
    lab.slice(slice("default", "dns", "dns-a", ["dns:5353/UDP"], [ep(ip(keep))]));
    await lab.sync();
    const next = await lab.probe(client, "udp", "10.96.0.30", 53, 3, 2000, 40000);
    assert.deepEqual(next.answers, { [`b${keep} ${ip(2)}`]: 3 }, `the removed backend ${name} still answers, but gets nothing`);
  });

  test("a flow black-holed while the proxy was away is cleared when it starts", async () => {
    await lab.stopProxy();
    await nft("delete", "table", "ip", "weft-proxy");
    const lost = await lab.probe(client, "udp", "10.96.0.30", 53, 1, 500, 40001);
    assert.deepEqual(lost.errors, { TIMEOUT: 1 }, "no table: the datagram left un-NATed");
    const ct = await run(createRunner(lab.node), ["conntrack", "-L", "-p", "udp", "--orig-port-src", "40001"]);
    assert.match(ct, /src=10\.96\.0\.30 dst=\S+ sport=53 dport=40001/, "conntrack holds the flow, not DNATed (the reply would come from the service IP)");
    lab.startProxy();
    lab.service(DNS);
    lab.slice(slice("default", "dns", "dns-a", ["dns:5353/UDP"], [ep(ip(10)), ep(ip(11))]));
    lab.service(WEB);
    lab.slice(slice("default", "web", "web-a", ["http:8080"], [ep(ip(10))]));
    lab.send({ op: "synced" });
    await lab.sync();
    const back = await lab.probe(client, "udp", "10.96.0.30", 53, 2, 2000, 40001);
    assert.deepEqual(back.errors, {});
  });

  test("drift: a deleted table and a flushed chain come back at once (nft monitor), without waiting for the periodic resync", async () => {
    await lab.stopProxy();
    lab.proxyLog = "";
    lab.startProxy({ resyncMs: 600_000 });
    lab.service(DNS);
    lab.slice(slice("default", "dns", "dns-a", ["dns:5353/UDP"], [ep(ip(10)), ep(ip(11))]));
    lab.service(WEB);
    lab.slice(slice("default", "web", "web-a", ["http:8080"], [ep(ip(10))]));
    lab.send({ op: "synced" });
    await lab.sync();
    await sleep(300); // the monitor is up
    let t0 = Date.now();
    await nft("delete", "table", "ip", "weft-proxy");
    await until("the table to come back", async () => (await lab.probe(client, "tcp", "10.96.0.31", 80, 1, 300)).errors.TIMEOUT === undefined, 5000, 20);
    const tableMs = Date.now() - t0;
    t0 = Date.now();
    // The shared chain that picks web's one endpoint.
    await nft("flush", "chain", "ip", "weft-proxy", "pick-cluster-tcp-1");
    await until("the chain's rules to come back", async () => (await nft("list", "chain", "ip", "weft-proxy", "pick-cluster-tcp-1")).includes("numgen random mod 1 map @endpoints-tcp"), 5000, 20);
    const chainMs = Date.now() - t0;
    assert.ok(tableMs < 1500 && chainMs < 1500, `table back after ${tableMs} ms, chain after ${chainMs} ms (periodic resync: 600 s)`);
    assert.deepEqual((await lab.probe(client, "tcp", "10.96.0.31", 80, 3)).answers, { [`b10 ${ip(2)}`]: 3 });
    assert.match(lab.proxyLog, /drift: process \d+ changed table ip weft-proxy/);
    assert.doesNotMatch(lab.proxyLog, /refused/, "repaired in place, without a rebuild");
  });

  test("a new Service and its endpoints take effect within 1 s", async () => {
    const t0 = Date.now();
    lab.service(svc("default", "late", { clusterIPs: ["10.96.0.32"], ports: [{ name: "http", port: 80 }] }));
    lab.slice(slice("default", "late", "late-a", ["http:8080"], [ep(ip(11))]));
    await until("the new service to answer", async () => Object.keys((await lab.probe(client, "tcp", "10.96.0.32", 80, 1, 300)).answers).length > 0, 3000, 10);
    const ms = Date.now() - t0;
    assert.ok(ms < 1000, `answered after ${ms} ms`);
  });

  test("services keep working while the proxy is down, and a new proxy takes the table over", async () => {
    await lab.stopProxy();
    assert.deepEqual((await lab.probe(client, "tcp", "10.96.0.31", 80, 3)).answers, { [`b10 ${ip(2)}`]: 3 });
    lab.startProxy();
    lab.service(WEB);
    lab.slice(slice("default", "web", "web-a", ["http:8080"], [ep(ip(11))]));
    lab.send({ op: "synced" });
    const s = await lab.sync();
    assert.equal((s.last as { kind: string }).kind, "full");
    assert.deepEqual((await lab.probe(client, "tcp", "10.96.0.31", 80, 3)).answers, { [`b11 ${ip(2)}`]: 3 });
    assert.deepEqual((await lab.probe(client, "udp", "10.96.0.30", 53, 1, 500)).errors, { TIMEOUT: 1 }, "the new proxy was not told of dns: its address is unallocated now, and dropped");
  });

  test("metrics: syncs by kind, programmed services and endpoints, programming latency", async () => {
    const text = (await lab.ask("metrics")).text as string;
    const value = (re: RegExp) => Number(re.exec(text)?.[1]);
    assert.ok(value(/^weft_proxy_syncs_total\{kind="full"\} (\d+)$/m) >= 1, text);
    assert.equal(value(/^weft_proxy_programmed_services (\d+)$/m), 1);
    assert.equal(value(/^weft_proxy_programmed_endpoints (\d+)$/m), 1);
    assert.ok(value(/^weft_proxy_network_programming_duration_seconds_count (\d+)$/m) >= 1);
    assert.ok(value(/^weft_proxy_sync_duration_seconds_count (\d+)$/m) >= 1);
    lab.slice(slice("default", "web", "web-a", ["http:8080"], [ep(ip(10)), ep(ip(11))]));
    await lab.sync();
    const after = (await lab.ask("metrics")).text as string;
    // The change's own sync, and possibly one more for syncNow when the first had started before it arrived.
    assert.ok(Number(/^weft_proxy_syncs_total\{kind="partial"\} (\d+)$/m.exec(after)?.[1]) >= 1, after);
    assert.equal(Number(/^weft_proxy_syncs_total\{kind="full"\} (\d+)$/m.exec(after)?.[1]), value(/^weft_proxy_syncs_total\{kind="full"\} (\d+)$/m), "an endpoint change is no full sync");
    assert.equal(Number(/^weft_proxy_programmed_endpoints (\d+)$/m.exec(after)?.[1]), 2);
  });
});
