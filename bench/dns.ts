/**
 * bench/dns: weft dns against CoreDNS, each pinned to core 1 (taskset) and
 * loaded by dnsperf on core 0, with 1,000 Services (bench/dns-cluster.ts),
 * in the same run, alternating servers round by round:
 *
 *   cluster mix    A 40%, SRV 25%, PTR 15%, NXDOMAIN 20% of cluster names
 *   forwarded mix  A of 1,000 names of a local upstream (dnsmasq on core 0,
 *                  TTL 60 s), so both servers answer from their caches once warm
 *
 * Both watch the same API server: src/dns/testing.ts's stand-in on
 * loopback, serving the 1,000 Services as lists and watches (and as the
 * streaming list client-go asks for), since there is no lab API server
 * here yet. weft dns runs as shipped: `bin/weft dns --config --kubeconfig`,
 * bundled, with @kubernetes/client-node and deploy/weft-dns.yaml's
 * NODE_OPTIONS. CoreDNS is built from its Go module (bench/coredns.ts) and
 * runs the kubeadm Corefile: errors, health, ready, `kubernetes
 * cluster.local in-addr.arpa ip6.arpa` (pods insecure, fallthrough for
 * reverse zones), prometheus, `forward . <upstream>`, `cache 30`,
 * loadbalance (loop and reload left out: they only probe and watch a file).
 *
 * Reported per server and mix: queries/s at saturation (dnsperf, 300
 * queries outstanding), p50 and p99 latency at a fixed 5,000 queries/s,
 * and the server's VmRSS after the runs; then weft's ratio to CoreDNS.
 *
 * BENCH_DNS_SECONDS (default 10) is each saturation run's length,
 * BENCH_DNS_ROUNDS (default 3) how many times each pair is measured.
 */
import { spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { join, resolve } from "node:path";
import { Scratch } from "./agent-scratch.ts";
import { corednsBinary, COREDNS_VERSION } from "./coredns.ts";
import { benchApiObjects, clusterMix, forwardedMix, SERVICES, upstreamHosts } from "./dns-cluster.ts";
import { startFakeApiServer, type FakeApiServer } from "../src/dns/testing.ts";
import { percentile, printTable } from "./stats.ts";
import { until } from "../test/support/until.ts";

const root = resolve(import.meta.dirname, "..");
const SECONDS = Number(process.env.BENCH_DNS_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_DNS_ROUNDS ?? 3);
const LATENCY_QPS = 5000;
const SERVER_CORE = "1";
const LOAD_CORE = "0";

interface Run {
  qps: number;
  lostPct: number;
}

interface Result {
  server: string;
  mix: string;
  qps: number[];
  /** Per round, ms. */
  p50: number[];
  p99: number[];
  rssMb: number;
  lostPct: number;
}

/** A UDP and TCP port free on 127.0.0.1 now. */
async function freePort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function dnsperf(port: number, file: string, args: string[]): string {
  const r = spawnSync("taskset", ["-c", LOAD_CORE, "dnsperf", "-s", "127.0.0.1", "-p", String(port), "-d", file, ...args], { encoding: "utf8", maxBuffer: 512 << 20 });
  if (r.status !== 0) throw new Error(`dnsperf failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

function saturate(port: number, file: string, seconds: number): Run {
  const out = dnsperf(port, file, ["-l", String(seconds), "-c", "4", "-q", "300"]);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1]);
  const lostPct = Number(/Queries lost:\s+\d+ \(([\d.]+)%\)/.exec(out)?.[1] ?? 0);
  if (!Number.isFinite(qps)) throw new Error(`dnsperf printed no rate:\n${out}`);
  return { qps, lostPct };
}

/** Per-query latencies (ms) at a fixed rate. */
function latencies(port: number, file: string): number[] {
  const out = dnsperf(port, file, ["-l", "3", "-Q", String(LATENCY_QPS), "-c", "4", "-v"]);
  return out.split("\n").filter((l) => l.startsWith("> ")).map((l) => Number(l.split(" ").at(-1)) * 1000);
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
}

/** The NODE_OPTIONS deploy/weft-dns.yaml gives weft dns, so the bench measures what ships. */
function deployedNodeOptions(): string {
  const m = /- name: NODE_OPTIONS\n\s+value: (.*)/.exec(readFileSync(join(root, "deploy/weft-dns.yaml"), "utf8"));
  return m ? m[1]!.trim() : "";
}

async function answers(port: number, name: string): Promise<boolean> {
  const r = spawnSync("dig", ["@127.0.0.1", "-p", String(port), "+time=1", "+tries=1", "+short", name], { encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() !== "";
}

export async function benchDns(): Promise<void> {
  const scratch = new Scratch("wdn");
  let api: FakeApiServer | null = null;
  try {
    const dir = scratch.tempDir("dns");
    const files = {
      cluster: join(dir, "cluster-mix.txt"),
      forwarded: join(dir, "forwarded-mix.txt"),
      hosts: join(dir, "upstream-hosts"),
    };
    writeFileSync(files.cluster, clusterMix());
    writeFileSync(files.forwarded, forwardedMix());
    writeFileSync(files.hosts, upstreamHosts());
    api = await startFakeApiServer(benchApiObjects());

    const upstreamPort = await freePort();
    scratch.spawn(["taskset", "-c", LOAD_CORE, "dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", `--addn-hosts=${files.hosts}`,
      "--local=/example.test/", "--listen-address=127.0.0.1", "--bind-interfaces", `--port=${upstreamPort}`, "--local-ttl=60", "--cache-size=10000", "--pid-file=", "--user=root"]);
    await until("dnsmasq to answer", () => answers(upstreamPort, "host-1.example.test"), 10_000, 100);

    const coredns = corednsBinary();
    const servers: { name: string; start: (port: number) => ChildProcess }[] = [
      {
        name: "weft dns",
        start: (port) => {
          const config = join(dir, `weft-dns-${port}.yaml`);
          writeFileSync(config, `listen: 127.0.0.1\nport: ${port}\nhttpPort: 0\nupstreams: ["127.0.0.1:${upstreamPort}"]\n`);
          return scratch.spawn(["taskset", "-c", SERVER_CORE, join(root, "bin/weft"), "dns", "--config", config, "--kubeconfig", api!.kubeconfig], {
            env: { ...process.env, NODE_OPTIONS: deployedNodeOptions() },
          });
        },
      },
    ];
    if ("bin" in coredns) {
      servers.push({
        name: `CoreDNS ${COREDNS_VERSION}`,
        start: (port) => {
          const corefile = join(dir, `Corefile-${port}`);
          writeFileSync(corefile, [
            `.:${port} {`,
            "  bind 127.0.0.1",
            "  errors",
            "  health 127.0.0.1:0",
            "  ready 127.0.0.1:0",
            "  kubernetes cluster.local in-addr.arpa ip6.arpa {",
            `    kubeconfig ${api!.kubeconfig} t`,
            "    pods insecure",
            "    fallthrough in-addr.arpa ip6.arpa",
            "  }",
            "  prometheus 127.0.0.1:0",
            `  forward . 127.0.0.1:${upstreamPort}`,
            "  cache 30",
            "  loadbalance",
            "}",
          ].join("\n") + "\n");
          return scratch.spawn(["taskset", "-c", SERVER_CORE, coredns.bin, "-conf", corefile, "-quiet"]);
        },
      });
    } else {
      process.stdout.write(`bench/dns: CoreDNS could not be built (${coredns.error}); weft dns alone\n`);
    }

    const results = new Map<string, Result>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of servers) {
        const port = await freePort();
        const child = s.start(port);
        await until(`${s.name} to answer`, () => answers(port, "svc-1.ns-1.svc.cluster.local"), 15_000, 100);
        for (const [mix, file] of [["cluster", files.cluster], ["forwarded", files.forwarded]] as const) {
          saturate(port, file, 2); // warm-up: caches filled, code optimised
          const run = saturate(port, file, SECONDS);
          const key = `${s.name} ${mix}`;
          const r = results.get(key) ?? { server: s.name, mix, qps: [], p50: [], p99: [], rssMb: 0, lostPct: 0 };
          r.qps.push(run.qps);
          r.lostPct = Math.max(r.lostPct, run.lostPct);
          const lat = latencies(port, file);
          r.p50.push(percentile(lat, 50));
          r.p99.push(percentile(lat, 99));
          r.rssMb = Math.max(r.rssMb, rssMb(child.pid!));
          results.set(key, r);
        }
        child.kill("SIGKILL");
        await new Promise((r) => child.once("exit", r));
      }
    }

    process.stdout.write(`\nbench/dns — ${SERVICES} Services; each server on core ${SERVER_CORE}, dnsperf on core ${LOAD_CORE}; ${ROUNDS} rounds of ${SECONDS} s per mix\n`);
    process.stdout.write("both watch the same stand-in API server on loopback (no lab API server yet); weft dns as bin/weft dns, CoreDNS with the kubeadm Corefile\n");
    process.stdout.write(`qps at saturation (300 outstanding); latency at a fixed ${LATENCY_QPS} queries/s; medians of the rounds; RSS the most seen\n`);
    const rows = [["server", "mix", "qps", "qps per round", "p50", "p99", "p99 per round", "RSS", "lost"]];
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
    };
    for (const r of results.values()) {
      rows.push([
        r.server, r.mix, median(r.qps).toFixed(0), r.qps.map((q) => q.toFixed(0)).join(" "),
        `${median(r.p50).toFixed(3)} ms`, `${median(r.p99).toFixed(2)} ms`, r.p99.map((p) => p.toFixed(1)).join(" "), `${r.rssMb.toFixed(1)} MB`, `${r.lostPct}%`,
      ]);
    }
    printTable(rows);
    for (const mix of ["cluster", "forwarded"]) {
      const w = results.get(`weft dns ${mix}`);
      const c = [...results.values()].find((r) => r.mix === mix && r.server !== "weft dns");
      if (w && c) {
        process.stdout.write(`${mix} mix: weft/CoreDNS qps ${(median(w.qps) / median(c.qps)).toFixed(2)} (goal ≥ 1.00), p99 ${(median(w.p99) / median(c.p99)).toFixed(2)}, RSS ${(w.rssMb / c.rssMb).toFixed(2)}\n`);
      }
    }
  } finally {
    scratch.dispose();
    await api?.close();
  }
}

if (import.meta.main) await benchDns();
