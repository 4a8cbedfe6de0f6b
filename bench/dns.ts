/**
 * bench/dns: weft dns against CoreDNS on the same lab API server, each
 * pinned to core 1 (taskset) and loaded by dnsperf on core 0, with 1,000
 * Services (bench/dns-cluster.ts) in the cluster, in the same run,
 * alternating servers round by round:
 *
 *   cluster mix    A 40%, SRV 25%, PTR 15%, NXDOMAIN 20% of cluster names
 *   forwarded mix  A of 1,000 names of a local upstream (dnsmasq on core 0,
 *                  TTL 60 s), so both servers answer from their caches once warm
 *
 * The bench brings up a lab with the Kubernetes control plane (`weft lab up
 * --nodes 1 --addon none`: etcd, kube-apiserver, controller manager,
 * scheduler, one lab kubelet; no add-on, so no pods of its own), creates
 * the namespaces and Services through the API server, and runs itself again
 * inside the node's network namespace, where the servers, dnsperf and
 * dnsmasq talk over that namespace's loopback and both servers watch the
 * API server at 192.168.125.100:6443 with the lab's admin kubeconfig. The
 * lab is taken down at the end, also after a failure or Ctrl-C.
 *
 * weft dns runs as shipped: `bin/weft dns --config --kubeconfig`, bundled,
 * with @kubernetes/client-node and deploy/weft-dns.yaml's environment
 * (NODE_OPTIONS, MALLOC_MMAP_THRESHOLD_).
 * CoreDNS is built from its Go module (bench/coredns.ts) and runs the
 * Corefile kubeadm writes (KUBEADM_COREFILE below), with loop and reload
 * left out (they only probe for a forwarding loop and watch the file).
 *
 * Reported per server and mix: queries/s at saturation (dnsperf, 300
 * queries outstanding), the server's CPU time per query answered in those
 * runs (from /proc/PID/stat: qps per core of the server's own CPU, which
 * the other load on a shared machine changes far less than qps), p50 and p99 latency at a fixed 5,000 queries/s,
 * the server's VmRSS once it has synced (idle) and the most seen after the
 * runs; then weft's ratios to CoreDNS. Then propagation: both servers run
 * side by side, PROPAGATION_RUNS Services are created 300 ms apart, and
 * each server is asked every PROPAGATION_POLL_MS from the create request's
 * start until it answers the Service's cluster IP.
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
import { ask } from "../src/dns/testing.ts";
import { controlPaths } from "../src/lab/control/paths.ts";
import { labLayout, nodeName, nodeNs } from "../src/lab/layout.ts";
import { sleep } from "../src/lib/sleep.ts";
import { percentile, printTable } from "./stats.ts";
import { until } from "../test/support/until.ts";

const root = resolve(import.meta.dirname, "..");
const WEFT = join(root, "bin/weft");
const SECONDS = Number(process.env.BENCH_DNS_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_DNS_ROUNDS ?? 3);
const LATENCY_QPS = 5000;
const SERVER_CORE = "1";
const LOAD_CORE = "0";
/** Set in the run inside the lab node's namespace: the lab's name. */
const IN_LAB_ENV = "WEFT_BENCH_DNS_LAB";
const PROPAGATION_RUNS = 20;
const PROPAGATION_POLL_MS = 2;

/**
 * The Corefile kubeadm writes (k8s.io/kubernetes v1.37.2,
 * cmd/kubeadm/app/phases/addons/dns/manifests.go), for a server on
 * 127.0.0.1:PORT watching KUBECONFIG and forwarding to UPSTREAM; health,
 * ready and prometheus on ports of their own; loop and reload left out.
 */
function kubeadmCorefile(port: number, kubeconfig: string, upstream: string): string {
  return `.:${port} {
    bind 127.0.0.1
    errors
    health 127.0.0.1:0 {
       lameduck 5s
    }
    ready 127.0.0.1:0
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       kubeconfig ${kubeconfig}
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus 127.0.0.1:0
    forward . ${upstream} {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loadbalance
}
`;
}

interface Run {
  qps: number;
  lostPct: number;
  /** The server's CPU time (user and system, all threads) per query answered, µs. */
  cpuUs: number;
}

interface Result {
  server: string;
  mix: string;
  qps: number[];
  /** Per round, the server's CPU µs per query answered. */
  cpuUs: number[];
  /** Per round, ms. */
  p50: number[];
  p99: number[];
  rssIdleMb: number;
  rssMb: number;
  lostPct: number;
}

/** A UDP and TCP port free on 127.0.0.1 now. */
export async function freePort(): Promise<number> {
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

/** CPU seconds (user and system) process `pid` has used, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function saturate(pid: number, port: number, file: string, seconds: number): Run {
  const cpu0 = cpuSeconds(pid);
  const out = dnsperf(port, file, ["-l", String(seconds), "-c", "4", "-q", "300"]);
  const cpu = cpuSeconds(pid) - cpu0;
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1]);
  const done = Number(/Queries completed:\s+(\d+)/.exec(out)?.[1]);
  const lostPct = Number(/Queries lost:\s+\d+ \(([\d.]+)%\)/.exec(out)?.[1] ?? 0);
  if (!Number.isFinite(qps) || !(done > 0)) throw new Error(`dnsperf printed no rate:\n${out}`);
  return { qps, lostPct, cpuUs: (cpu / done) * 1e6 };
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

/** The environment deploy/weft-dns.yaml gives weft dns (NODE_OPTIONS, malloc's), so the bench measures what ships. */
function deployedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of readFileSync(join(root, "deploy/weft-dns.yaml"), "utf8").matchAll(/- name: (\w+)\n\s+value: (.*)/g)) env[m[1]!] = m[2]!.trim().replace(/^"(.*)"$/, "$1");
  return env;
}

/** Whether the server on `port` answers `name` A with `ip` now. */
async function answersWith(port: number, name: string, ip: string): Promise<boolean> {
  try {
    const r = await ask(port, name, "A", { timeoutMs: 500 });
    return (r.packet.answers ?? []).some((a) => a.type === "A" && a.data === ip);
  } catch {
    return false;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Brings up the lab, runs the measurement inside its node's namespace, takes the lab down. */
export async function benchDns(): Promise<void> {
  if (process.env[IN_LAB_ENV]) return measureInLab(process.env[IN_LAB_ENV]);
  const scratch = new Scratch("wdn");
  const name = `wdn-${process.pid}`;
  let up = false;
  scratch.atExit(() => {
    if (up) spawnSync(WEFT, ["lab", "down", "--name", name], { stdio: "ignore" });
  });
  try {
    up = true;
    process.stderr.write(`bench/dns: lab up --name ${name} --nodes 1 --addon none\n`);
    const r = spawnSync(WEFT, ["lab", "up", "--name", name, "--nodes", "1", "--addon", "none"], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
    if (r.status !== 0) throw new Error(`weft lab up failed: ${r.stderr.trim()}`);
    const inner = spawnSync("ip", ["netns", "exec", nodeNs(labLayout(name), nodeName(1)), "sh", join(root, "scripts/node.sh"), import.meta.filename], {
      stdio: "inherit",
      env: { ...process.env, [IN_LAB_ENV]: name },
    });
    if (inner.status !== 0) throw new Error(`bench/dns inside the lab exited ${inner.status ?? inner.signal}`);
  } finally {
    scratch.dispose();
  }
}

/** Creates the namespaces and Services (20 requests at a time); ones that exist are left as they are. */
async function createCluster(kubeconfig: string): Promise<void> {
  const k8s = await import("@kubernetes/client-node");
  const { loadKubeConfig } = await import("../src/kube/kubeconfig.ts");
  const core = loadKubeConfig(kubeconfig).makeApiClient(k8s.CoreV1Api);
  const exists = (err: unknown) => (err as { code?: number }).code === 409;
  const { namespaces, services } = benchApiObjects();
  await Promise.all(namespaces.map((n) => core.createNamespace({ body: { metadata: { name: n } } }).catch((e) => { if (!exists(e)) throw e; })));
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 20 }, async () => {
    while (next < services.length) {
      const s = services[next++]!;
      await core.createNamespacedService({ namespace: s.namespace, body: s.body as never }).catch((e) => { if (!exists(e)) throw e; });
    }
  }));
  process.stderr.write(`bench/dns: ${services.length} Services created in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

async function measureInLab(labName: string): Promise<void> {
  const kubeconfig = controlPaths(labLayout(labName)).adminConf;
  await createCluster(kubeconfig);
  const scratch = new Scratch("wdn");
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

    const upstreamPort = await freePort();
    scratch.spawn(["taskset", "-c", LOAD_CORE, "dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", `--addn-hosts=${files.hosts}`,
      "--local=/example.test/", "--listen-address=127.0.0.1", "--bind-interfaces", `--port=${upstreamPort}`, "--local-ttl=60", "--cache-size=10000", "--pid-file=", "--user=root"]);
    await until("dnsmasq to answer", () => answersWith(upstreamPort, "host-1.example.test", "198.18.0.1"), 10_000, 100);

    const coredns = corednsBinary();
    const servers: { name: string; start: (port: number) => ChildProcess }[] = [
      {
        name: "weft dns",
        start: (port) => {
          const config = join(dir, `weft-dns-${port}.yaml`);
          writeFileSync(config, `listen: 127.0.0.1\nport: ${port}\nhttpPort: 0\nupstreams: ["127.0.0.1:${upstreamPort}"]\n`);
          return scratch.spawn(["taskset", "-c", SERVER_CORE, WEFT, "dns", "--config", config, "--kubeconfig", kubeconfig], {
            env: { ...process.env, ...deployedEnv() },
          });
        },
      },
    ];
    if ("bin" in coredns) {
      servers.push({
        name: `CoreDNS ${COREDNS_VERSION}`,
        start: (port) => {
          const corefile = join(dir, `Corefile-${port}`);
          writeFileSync(corefile, kubeadmCorefile(port, kubeconfig, `127.0.0.1:${upstreamPort}`));
          return scratch.spawn(["taskset", "-c", SERVER_CORE, coredns.bin, "-conf", corefile, "-quiet"]);
        },
      });
    } else {
      process.stdout.write(`bench/dns: CoreDNS could not be built (${coredns.error}); weft dns alone\n`);
    }
    // The last of the Services: a server answering it has listed them all.
    const last = { name: `svc-${SERVICES - 1}.ns-${(SERVICES - 1) % 10}.svc.cluster.local`, ip: `10.97.${(SERVICES - 1) >> 8}.${(SERVICES - 1) & 255}` };

    const results = new Map<string, Result>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of servers) {
        const port = await freePort();
        const child = s.start(port);
        await until(`${s.name} to answer ${last.name}`, () => answersWith(port, last.name, last.ip), 30_000, 100);
        await sleep(1000);
        const idle = rssMb(child.pid!);
        for (const [mix, file] of [["cluster", files.cluster], ["forwarded", files.forwarded]] as const) {
          saturate(child.pid!, port, file, 2); // warm-up: caches filled, code optimised
          const run = saturate(child.pid!, port, file, SECONDS);
          const key = `${s.name} ${mix}`;
          const r = results.get(key) ?? { server: s.name, mix, qps: [], cpuUs: [], p50: [], p99: [], rssIdleMb: 0, rssMb: 0, lostPct: 0 };
          r.qps.push(run.qps);
          r.cpuUs.push(run.cpuUs);
          r.lostPct = Math.max(r.lostPct, run.lostPct);
          const lat = latencies(port, file);
          r.p50.push(percentile(lat, 50));
          r.p99.push(percentile(lat, 99));
          r.rssIdleMb = Math.max(r.rssIdleMb, idle);
          r.rssMb = Math.max(r.rssMb, rssMb(child.pid!));
          results.set(key, r);
        }
        child.kill("SIGKILL");
        await new Promise((r) => child.once("exit", r));
      }
    }

    const propagation = await measurePropagation(kubeconfig, servers, last);

    process.stdout.write(`\nbench/dns — ${SERVICES} Services in the lab's API server (kube-apiserver, etcd); each server on core ${SERVER_CORE}, dnsperf on core ${LOAD_CORE}; ${ROUNDS} rounds of ${SECONDS} s per mix\n`);
    process.stdout.write("weft dns as bin/weft dns with the Deployment's environment, CoreDNS with kubeadm's Corefile; both watch the lab API server with its admin kubeconfig\n");
    process.stdout.write(`qps at saturation (300 outstanding); latency at a fixed ${LATENCY_QPS} queries/s; medians of the rounds; RSS once synced (idle) and the most seen after the runs\n`);
    process.stdout.write("CPU/query: the server's CPU time (user and system, /proc/PID/stat) over the saturation run per query answered; qps/core = 1 s over it (what other load on the machine changes least)\n");
    const rows = [["server", "mix", "qps", "qps per round", "CPU/query", "qps/core", "p50", "p99", "p99 per round", "RSS idle", "RSS", "lost"]];
    for (const r of results.values()) {
      rows.push([
        r.server, r.mix, median(r.qps).toFixed(0), r.qps.map((q) => q.toFixed(0)).join(" "), `${median(r.cpuUs).toFixed(1)} µs`, (1e6 / median(r.cpuUs)).toFixed(0),
        `${median(r.p50).toFixed(3)} ms`, `${median(r.p99).toFixed(2)} ms`, r.p99.map((p) => p.toFixed(1)).join(" "),
        `${r.rssIdleMb.toFixed(1)} MB`, `${r.rssMb.toFixed(1)} MB`, `${r.lostPct}%`,
      ]);
    }
    printTable(rows);
    for (const mix of ["cluster", "forwarded"]) {
      const w = results.get(`weft dns ${mix}`);
      const c = [...results.values()].find((r) => r.mix === mix && r.server !== "weft dns");
      if (w && c) {
        process.stdout.write(`${mix} mix: weft/CoreDNS qps ${(median(w.qps) / median(c.qps)).toFixed(2)}, qps per core of server CPU ${(median(c.cpuUs) / median(w.cpuUs)).toFixed(2)} (goal ≥ 1.00 for both), p50 ${(median(w.p50) / median(c.p50)).toFixed(2)}, p99 ${(median(w.p99) / median(c.p99)).toFixed(2)}, RSS idle ${(w.rssIdleMb / c.rssIdleMb).toFixed(2)}, RSS ${(w.rssMb / c.rssMb).toFixed(2)}\n`);
      }
    }
    process.stdout.write(`\npropagation — Service create request to the first correct answer, ${PROPAGATION_RUNS} Services created 300 ms apart, each server asked every ${PROPAGATION_POLL_MS} ms\n`);
    const prow = [["server", "p50", "p90", "max"]];
    for (const [server, times] of propagation) prow.push([server, ...[percentile(times, 50), percentile(times, 90), Math.max(...times)].map((t) => `${t.toFixed(1)} ms`)]);
    printTable(prow);
    const pw = propagation.get("weft dns");
    const pc = [...propagation.entries()].find(([n]) => n !== "weft dns")?.[1];
    if (pw && pc) process.stdout.write(`propagation: weft/CoreDNS p50 ${(percentile(pw, 50) / percentile(pc, 50)).toFixed(2)}, p90 ${(percentile(pw, 90) / percentile(pc, 90)).toFixed(2)}\n`);
  } finally {
    scratch.dispose();
  }
}

/**
 * Both servers at once (each on core 1); Services prop-I created one at a
 * time, 300 ms apart, each server asked from the create request's start
 * until it answers the new cluster IP. Returns the times (ms) per server;
 * the Services are deleted afterwards.
 */
async function measurePropagation(kubeconfig: string, servers: { name: string; start: (port: number) => ChildProcess }[], last: { name: string; ip: string }): Promise<Map<string, number[]>> {
  const k8s = await import("@kubernetes/client-node");
  const { loadKubeConfig } = await import("../src/kube/kubeconfig.ts");
  const core = loadKubeConfig(kubeconfig).makeApiClient(k8s.CoreV1Api);
  const running = [];
  for (const s of servers) {
    const port = await freePort();
    running.push({ name: s.name, port, child: s.start(port) });
  }
  const times = new Map<string, number[]>(servers.map((s) => [s.name, []]));
  try {
    for (const r of running) await until(`${r.name} to answer ${last.name}`, () => answersWith(r.port, last.name, last.ip), 30_000, 100);
    for (let i = 0; i < PROPAGATION_RUNS; i++) {
      await sleep(300);
      const name = `prop-${i}`;
      const ip = `10.98.0.${i + 1}`;
      const fqdn = `${name}.ns-0.svc.cluster.local`;
      const t0 = performance.now();
      const created = core.createNamespacedService({ namespace: "ns-0", body: { metadata: { name }, spec: { clusterIP: ip, ports: [{ name: "http", port: 80 }] } } });
      await Promise.all([
        created,
        ...running.map(async (r) => {
          await until(`${r.name} to answer ${fqdn}`, () => answersWith(r.port, fqdn, ip), 10_000, PROPAGATION_POLL_MS);
          times.get(r.name)!.push(performance.now() - t0);
        }),
      ]);
    }
  } finally {
    for (const r of running) r.child.kill("SIGKILL");
    await Promise.all(Array.from({ length: PROPAGATION_RUNS }, (_, i) => core.deleteNamespacedService({ namespace: "ns-0", name: `prop-${i}` }).catch(() => {})));
  }
  return times;
}

if (import.meta.main) await benchDns();
