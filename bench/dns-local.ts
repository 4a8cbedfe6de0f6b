/**
 * bench/dns-local: weft dns alone, without a lab, on loopback: the server
 * (src/dns/server.ts, in-process code as in bin/weft dns) fed by the
 * in-memory source with bench/dns-cluster.ts's 1,000 Services, pinned to
 * core 1, dnsmasq as the local upstream (TTL 60 s) and dnsperf (300
 * outstanding) on core 0: the same two mixes as bench/dns.ts, so a change
 * to the query path can be A/B-measured in a minute instead of ten.
 *
 * CoreDNS (bench/coredns.ts) runs the forwarded mix too, with kubeadm's
 * Corefile less its kubernetes plugin (there is no API server here; the
 * plugin only answers cluster.local and the reverse zones anyway).
 *
 * Reported per round: qps, the server's CPU time per query answered (from
 * /proc/PID/stat; what other load on the machine changes least, unlike
 * qps), and weft's counts of cache hits and misses. BENCH_DNS_SECONDS (default 10), BENCH_DNS_ROUNDS (default 3);
 * BENCH_DNS_PROF=DIR writes a --cpu-prof profile of the server there.
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Scratch } from "./agent-scratch.ts";
import { corednsBinary, COREDNS_VERSION } from "./coredns.ts";
import { benchSnapshot, clusterMix, forwardedMix, upstreamHosts } from "./dns-cluster.ts";
import { freePort } from "./dns.ts";
import { ask } from "../src/dns/testing.ts";
import { until } from "../test/support/until.ts";
import { printTable } from "./stats.ts";

const root = resolve(import.meta.dirname, "..");
const SECONDS = Number(process.env.BENCH_DNS_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_DNS_ROUNDS ?? 3);
const SERVE_ENV = "WEFT_BENCH_DNS_LOCAL_SERVE";

async function answers(port: number, name: string): Promise<boolean> {
  try {
    const r = await ask(port, name, "A", { timeoutMs: 500 });
    return (r.packet.answers ?? []).length > 0;
  } catch {
    return false;
  }
}

/** The server process: weft dns on 127.0.0.1:PORT with the bench cluster in memory; SIGTERM prints its cache counts. */
async function serve(spec: string): Promise<void> {
  const { parseDnsConfig } = await import("../src/dns/config.ts");
  const { FakeSource } = await import("../src/dns/fake-source.ts");
  const { DnsServer } = await import("../src/dns/server.ts");
  const [port, upstream] = spec.split(",");
  const config = parseDnsConfig(`listen: 127.0.0.1\nport: ${port}\nhttpPort: 0\nupstreams: ["127.0.0.1:${upstream}"]\n`, "bench");
  const server = new DnsServer(config, new FakeSource(benchSnapshot()), { log: () => {} });
  await server.start();
  process.on("SIGTERM", () => {
    process.stdout.write(JSON.stringify({ hits: server.metrics.cacheHits, misses: server.metrics.cacheMisses }) + "\n");
    void server.close().then(() => process.exit(0));
  });
}

/** CPU seconds (user and system) process `pid` has used. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** dnsperf at saturation against `pid` on `port`: queries/s, and the server's CPU µs per query answered (what the load of other processes on the machine changes least). */
function saturate(pid: number, port: number, file: string, seconds: number): { qps: number; cpuUs: number } {
  const cpu0 = cpuSeconds(pid);
  const r = spawnSync("taskset", ["-c", "0", "dnsperf", "-s", "127.0.0.1", "-p", String(port), "-d", file, "-l", String(seconds), "-c", "4", "-q", "300"], { encoding: "utf8" });
  const cpu = cpuSeconds(pid) - cpu0;
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const done = Number(/Queries completed:\s+(\d+)/.exec(r.stdout)?.[1]);
  if (!Number.isFinite(qps) || !(done > 0)) throw new Error(`dnsperf printed no rate:\n${r.stdout}${r.stderr}`);
  return { qps, cpuUs: (cpu / done) * 1e6 };
}

export async function benchDnsLocal(): Promise<void> {
  if (process.env[SERVE_ENV]) return serve(process.env[SERVE_ENV]);
  const scratch = new Scratch("wdl");
  try {
    const dir = scratch.tempDir("dns");
    const files = { cluster: join(dir, "cluster-mix.txt"), forwarded: join(dir, "forwarded-mix.txt"), hosts: join(dir, "upstream-hosts") };
    writeFileSync(files.cluster, clusterMix());
    writeFileSync(files.forwarded, forwardedMix());
    writeFileSync(files.hosts, upstreamHosts());
    const upstream = await freePort();
    scratch.spawn(["taskset", "-c", "0", "dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", `--addn-hosts=${files.hosts}`,
      "--local=/example.test/", "--listen-address=127.0.0.1", "--bind-interfaces", `--port=${upstream}`, "--local-ttl=60", "--cache-size=10000", "--pid-file=", "--user=root"]);
    await until("dnsmasq to answer", () => answers(upstream, "host-1.example.test"), 10_000, 100);
    const coredns = corednsBinary();
    const rows = [["round", "server", "mix", "qps", "CPU µs/query", "cache hits / misses"]];
    for (let round = 0; round < ROUNDS; round++) {
      // weft dns, both mixes.
      const port = await freePort();
      const prof = process.env.BENCH_DNS_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_DNS_PROF}`] : [];
      const child = spawn("taskset", ["-c", "1", process.execPath, ...prof, import.meta.filename], {
        env: { ...process.env, [SERVE_ENV]: `${port},${upstream}`, NODE_OPTIONS: "--max-semi-space-size=2", MALLOC_MMAP_THRESHOLD_: "131072" },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      try {
        await until("weft dns to answer", () => answers(port, "svc-1.ns-1.svc.cluster.local"), 10_000, 100);
        const runs: [string, { qps: number; cpuUs: number }][] = [];
        for (const [mix, file] of [["cluster", files.cluster], ["forwarded", files.forwarded]] as const) {
          saturate(child.pid!, port, file, 2);
          runs.push([mix, saturate(child.pid!, port, file, SECONDS)]);
        }
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
        const counts = JSON.parse(out.trim().split("\n").at(-1) || "{}") as { hits?: number; misses?: number };
        for (const [mix, r] of runs) rows.push([String(round + 1), "weft dns", mix, r.qps.toFixed(0), r.cpuUs.toFixed(1), mix === "forwarded" ? `${counts.hits} / ${counts.misses}` : ""]);
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      // CoreDNS with kubeadm's Corefile less its kubernetes plugin (no API server here): the forwarded mix only.
      if ("bin" in coredns) {
        const cport = await freePort();
        const corefile = join(dir, `Corefile-${cport}`);
        writeFileSync(corefile, `.:${cport} {\n    bind 127.0.0.1\n    errors\n    prometheus 127.0.0.1:0\n    forward . 127.0.0.1:${upstream} {\n       max_concurrent 1000\n    }\n    cache 30\n    loadbalance\n}\n`);
        const c = scratch.spawn(["taskset", "-c", "1", coredns.bin, "-conf", corefile, "-quiet"]);
        try {
          await until("CoreDNS to answer", () => answers(cport, "host-1.example.test"), 10_000, 100);
          saturate(c.pid!, cport, files.forwarded, 2);
          const r = saturate(c.pid!, cport, files.forwarded, SECONDS);
          rows.push([String(round + 1), `CoreDNS ${COREDNS_VERSION}`, "forwarded", r.qps.toFixed(0), r.cpuUs.toFixed(1), ""]);
        } finally {
          c.kill("SIGKILL");
          await new Promise((r) => (c.exitCode === null ? c.once("exit", r) : r(null)));
        }
      }
    }
    process.stdout.write(`\nbench/dns-local — weft dns on core 1 (in-memory source, 1,000 Services), dnsperf and dnsmasq on core 0, ${SECONDS} s per mix\n`);
    printTable(rows);
  } finally {
    scratch.dispose();
  }
}

if (import.meta.main) await benchDnsLocal();
