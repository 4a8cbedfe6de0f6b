/**
 * bench/proxy-sync: what the service proxy's syncs cost with many Services
 * (each one port, 5 endpoints; API objects only, no pods), in a namespace of
 * the bench's own, with the proxy running inside it as the agent does (this
 * file runs itself there with `ip netns exec`, so nft is spawned directly):
 *
 *   - full sync from nothing (plan, render, one nft transaction that
 *     rebuilds the table), as at start;
 *   - full sync in place over the same table (the periodic resync);
 *   - incremental: one endpoint added, one removed, one Service added, each
 *     timed from the event reaching the proxy to `nft` having committed
 *     (plan, diff, apply), 20 times each.
 *
 * BENCH_PROXY_SERVICES=1000,10000 (default) chooses the sizes. These are
 * weft's own figures, without an API server; bench/kube-proxy.ts measures
 * weft against kube-proxy from the API write to the kernel.
 */
import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { createRunner } from "../src/kernel/runner.ts";
import { ServiceProxy } from "../src/proxy/proxy.ts";
import { ep, slice, svc } from "../src/proxy/testing.ts";
import type { EndpointSlice, Service } from "../src/proxy/types.ts";
import { Scratch } from "./agent-scratch.ts";
import { ms, percentile, printTable } from "./stats.ts";

const SIZES = (process.env.BENCH_PROXY_SERVICES ?? "1000,10000").split(",").map(Number);
const ROUNDS = 20;
const ENDPOINTS = 5;
const OPTIONS = { nodeName: "n1", nodePodCidr: "10.244.1.0/24", clusterCidr: "10.244.0.0/16", serviceCidr: "10.96.0.0/12" };

function clusterIp(i: number): string {
  return `10.96.${(i >> 8) & 255}.${i & 255}`;
}
function endpointIp(i: number, j: number): string {
  const n = i * ENDPOINTS + j + 2;
  return `10.244.${(n >> 8) & 255}.${n & 255}`;
}
function makeService(i: number): Service {
  return svc("bench", `s${i}`, { clusterIPs: [clusterIp(i + 16)], ports: [{ name: "http", port: 80, targetPort: 8080 }] });
}
function makeSlice(i: number, n = ENDPOINTS): EndpointSlice {
  return slice("bench", `s${i}`, `s${i}-a`, ["http:8080"], Array.from({ length: n }, (_, j) => ep(endpointIp(i, j), { nodeName: j === 0 ? "n1" : "n2" })));
}

/** Runs the measurement for `n` services in this process's namespace; returns one table row. */
async function measure(n: number): Promise<string[]> {
      const runner = createRunner();
      const proxy = new ServiceProxy({ ...OPTIONS, runner, log: (l) => process.stderr.write(`proxy: ${l}\n`), minSyncIntervalMs: 0, burst: 1000, resyncMs: 3_600_000 });
      try {
        for (let i = 0; i < n; i++) {
          proxy.upsertService(makeService(i));
          proxy.upsertSlice(makeSlice(i));
        }
        proxy.markServicesSynced();
        proxy.markSlicesSynced();
        const t0 = performance.now();
        await proxy.syncNow();
        const startMs = performance.now() - t0;
        if (!proxy.synced) throw new Error("the first sync failed");

        // A full sync in place, as the periodic resync and drift repair do; plan and nft timed apart.
        const p0 = performance.now();
        await proxy.resyncNow();
        const resyncMs = performance.now() - p0;
        const resync = proxy.lastSync()!;
        if (resync.kind !== "full") throw new Error(`expected a full sync, got ${resync.kind}`);
        const [planMs, resyncNftMs] = [resync.planMs, resync.nftMs];

        const planShare: number[] = [];
        const timed = async (change: (r: number) => void): Promise<number[]> => {
          const out: number[] = [];
          for (let r = 0; r < ROUNDS; r++) {
            const t = performance.now();
            change(r);
            await proxy.syncNow();
            out.push(performance.now() - t);
            const last = proxy.lastSync();
            if (last?.kind !== "partial") throw new Error(`expected a partial sync, got ${last?.kind}`);
            planShare.push(last.planMs);
          }
          return out;
        };
        const added = await timed((r) => proxy.upsertSlice(makeSlice(r * 7, ENDPOINTS + 1)));
        const removed = await timed((r) => proxy.upsertSlice(makeSlice(r * 7, ENDPOINTS - 1)));
        const newService = await timed((r) => {
          proxy.upsertService(makeService(n + r));
          proxy.upsertSlice(makeSlice(n + r));
        });
        const p = (xs: number[]) => `${ms(percentile(xs, 50))} / ${ms(percentile(xs, 95))}`;
        const cpu = process.cpuUsage();
        return [
          String(n), String(n * ENDPOINTS), ms(startMs), ms(resyncMs), ms(planMs), ms(resyncNftMs),
          p(added), p(removed), p(newService), ms(percentile(planShare, 50)), `${Math.round(process.memoryUsage().rss / 2 ** 20)} MB`, `${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`,
        ];
      } finally {
        await proxy.stop();
      }
}

export async function benchProxySync(): Promise<void> {
  const scratch = new Scratch("wbp");
  const rows = [["services", "endpoints", "full (start)", "full (resync)", "of which plan", "of which nft", "+1 endpoint p50/p95", "-1 endpoint p50/p95", "+1 service p50/p95", "of which plan+diff p50", "RSS", "CPU (proxy)"]];
  try {
    for (const n of SIZES) {
      const [ns] = scratch.addNamespaces([`s${n}`]);
      try {
        const child = spawnSync("ip", ["netns", "exec", ns!, process.execPath, import.meta.filename, "--inside", String(n)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
        if (child.status !== 0) throw new Error(`proxy-sync with ${n} services exited ${child.status}`);
        rows.push(JSON.parse(child.stdout) as string[]);
      } finally {
        scratch.removeNamespaces([ns!]);
      }
    }
  } finally {
    scratch.dispose();
  }
  process.stdout.write("\nproxy-sync: weft's service proxy, one nft transaction per sync (in a namespace of its own)\n");
  printTable(rows);
  process.stdout.write("incremental: event in → nft committed (plan + diff + apply); goal ≤ 50 ms p50 at 10,000 Services\n");
}

if (import.meta.main) {
  if (process.argv[2] === "--inside") process.stdout.write(JSON.stringify(await measure(Number(process.argv[3]))) + "\n");
  else await benchProxySync();
}
