/**
 * bench/dns-propagation: from a Service's creation (the watch event leaving
 * the API server) to weft dns's first correct answer for it, through the
 * real @kubernetes/client-node informers, with 1,000 Services already
 * known. The API server is src/dns/testing.ts's stand-in on loopback: the
 * lab's real one would add its own watch latency on top.
 */
import { parseDnsConfig } from "../src/dns/config.ts";
import { startKubeSource } from "../src/dns/kube-source.ts";
import { DnsServer } from "../src/dns/server.ts";
import { ask, clusterObjects, startFakeApiServer } from "../src/dns/testing.ts";
import { sleep } from "../src/lib/sleep.ts";
import { until } from "../test/support/until.ts";
import { SERVICES } from "./dns-cluster.ts";
import { percentile, printTable } from "./stats.ts";

const RUNS = 30;

export async function benchDnsPropagation(): Promise<void> {
  const objects = clusterObjects();
  for (let i = 0; i < SERVICES; i++) {
    objects["/api/v1/services"]!.push({
      metadata: { name: `svc-${i}`, namespace: "default", resourceVersion: "1" },
      spec: { clusterIP: `10.97.${i >> 8}.${i & 255}`, clusterIPs: [`10.97.${i >> 8}.${i & 255}`], ports: [{ name: "http", port: 80 }] },
    });
  }
  const api = await startFakeApiServer(objects);
  const source = await startKubeSource({ kubeconfig: api.kubeconfig, pods: false, log: () => {} });
  const server = new DnsServer(parseDnsConfig("listen: 127.0.0.1\nport: 0\nhttpPort: 0\nupstreams: []", "bench"), source, { log: () => {} });
  try {
    await server.start();
    await until("the source to sync and watch", () => server.handler.synced && api.watching() >= 3, 20_000);
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Apart by more than the rebuild gap (server.ts): each creation is measured on its own.
      await sleep(200);
      const name = `new-${i}`;
      const t0 = performance.now();
      api.send("/api/v1/services", "ADDED", { metadata: { name, namespace: "default", resourceVersion: String(10 + i) }, spec: { clusterIP: `10.98.0.${i + 1}`, clusterIPs: [`10.98.0.${i + 1}`] } });
      await until(`${name} to resolve`, async () => (await ask(server.port, `${name}.default.svc.cluster.local`, "A")).rcode === "NOERROR", 5000, 1);
      times.push(performance.now() - t0);
    }
    process.stdout.write(`\nbench/dns-propagation — watch event to first correct answer, ${SERVICES} Services known, ${RUNS} Services created 200 ms apart\n`);
    printTable([["p50", "p90", "max"], [percentile(times, 50), percentile(times, 90), Math.max(...times)].map((t) => `${t.toFixed(1)} ms`)]);
  } finally {
    await server.close();
    await source.close();
    await api.close();
  }
}

if (import.meta.main) await benchDnsPropagation();
