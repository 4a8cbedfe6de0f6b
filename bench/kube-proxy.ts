/**
 * bench/kube-proxy: weft's service proxy against kube-proxy, in one run, on
 * the same machine, against the same API server (issue 14, section 4).
 *
 *   kube-proxy  the pinned release's (kubeBinary("kube-proxy")), mode
 *               nftables, in node namespace 1 (Node `node1`), with a
 *               KubeProxyConfiguration file: the lab's admin kubeconfig,
 *               hostnameOverride node1, clusterCIDR 10.244.0.0/16,
 *               minSyncPeriod 100 ms (weft's minimum interval), conntrack
 *               sysctls left alone (a namespace cannot set them);
 *   weft        the shipped agent, as the lab and a node run it: Node.js
 *               with build/weft-agent.mjs and the Node.js flags of
 *               deploy/weft.yaml (its NODE_OPTIONS) in node namespace 2 (Node `node2`, whose
 *               spec.podCIDR is its subnet), `--store kubernetes` with the
 *               same kubeconfig, `--service-proxy --no-network-policy`, and
 *               its API (so its /metrics) on 127.0.0.1:10249 where
 *               kube-proxy serves its metrics. Its times and costs are the
 *               whole agent's: the lease on its Node and the backend come
 *               first, then the proxy's informers.
 *
 * The control plane is the lab's etcd and kube-apiserver with the lab's PKI
 * and flags (bench/flannel.ts's ControlPlane) at 192.168.125.100 on the
 * switch both nodes are on; the controller manager is not run (the Services
 * have no selector: the bench writes their EndpointSlices itself, as API
 * objects without pods). Each node has a client pod (10.244.K.2) and a
 * backend pod (10.244.250.10 on both nodes, each its own namespace) routed
 * by the node, so the client's traffic to a ClusterIP passes the node's
 * prerouting hooks as a pod's does.
 *
 * Measured, for each proxy:
 *   full sync     at each size in SIZES (Services × 5 endpoints, one port):
 *                 both proxies stopped and their tables deleted, the objects
 *                 created, then the proxy started; time from its start to
 *                 its `service-ips` map holding every Service (polled with
 *                 `nft list map`, every tenth of the time so far, 50 ms to
 *                 POLL_MS); kube-proxy first, weft
 *                 after it (kube-proxy idle meanwhile); and, without the
 *                 poll's rounding, from its start to the end of its first
 *                 sync as it reports it (kube-proxy's log, the agent's
 *                 metrics);
 *   incremental   with the largest size present, ROUNDS times each: one
 *                 endpoint added to a Service's slice, that endpoint removed
 *                 again, one Service (with its slice) added; from just before
 *                 the API request to the end of the proxy's first sync that
 *                 started after it (the end: its nft transaction returned),
 *                 as each one reports its syncs (kube-proxy's log at --v=2;
 *                 the agent's /metrics, read before the write and after it:
 *                 weft_proxy_last_sync_timestamp_seconds is when a sync's nft
 *                 transaction returned, and the growth of
 *                 weft_proxy_sync_duration_seconds_sum its duration). (An
 *                 `nft monitor` in the node's namespace would be independent
 *                 of the proxies, but with kube-proxy's 10,000 Services it
 *                 did not start listening within 2 minutes.)
 *   first packet  TCP connect() time from the client pod to a ClusterIP and
 *                 straight to the backend (for reference: the two nodes
 *                 differ a little on the same path), CONNECTS times each
 *                 per proxy, with 1 Service and with the largest size
 *                 present: in CONNECT_BLOCKS blocks that alternate the two
 *                 proxies and the two targets (so a change in the machine's
 *                 load falls on all), each block after WARMUP connects left
 *                 out (the client's own first connects: its JIT, its first
 *                 ARP); client on CPU 0, server on CPU 1, as for
 *                 throughput; and the ClusterIP's figure over the pod's on
 *                 the same node, which takes the node's own part out;
 *   throughput    iperf3 client pod → backend pod through the ClusterIP
 *                 against straight to the pod IP: IPERF_ROUNDS pairs per
 *                 proxy, each pair back to back in alternating order (the
 *                 first second left out, client on CPU 0, server on CPU 1),
 *                 the share of direct being the median of the pairs' ratios;
 *                 and, steadier, IPERF_ROUNDS rounds of the two streams at
 *                 once (to two servers on the backend, both clients on CPU
 *                 0, both servers on CPU 1): sharing the CPUs at the same
 *                 moment, each carries what its path costs per byte allow,
 *                 and a swing of this machine's speed (single streams vary
 *                 by ±12% from one run to the next here, on a bare veth)
 *                 falls on both alike; and IPERF_ROUNDS rounds of the two
 *                 proxies' ClusterIP streams at once (weft's over
 *                 kube-proxy's, on the same terms);
 *   CPU and RSS   CPU seconds (with the nft processes each one waited for)
 *                 of every instance of each proxy's process (kube-proxy's,
 *                 the agent's) over the run, the highest RSS (each
 *                 instance's VmHWM, its lifetime peak, read just before
 *                 it is stopped: a peak sampled every poll can miss a
 *                 short one, such as a full sync's), and the RSS at
 *                 the end of the run (after the incremental rounds).
 *
 * BENCH_KPROXY_SERVICES (default 1000,10000), BENCH_KPROXY_ROUNDS (20),
 * BENCH_KPROXY_CONNECTS (1000), BENCH_KPROXY_IPERF_SECONDS (3),
 * BENCH_KPROXY_IPERF_ROUNDS (9).
 * Runs alone: `sh scripts/node.sh bench/kube-proxy.ts`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, cpSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { KubeConfig } from "@kubernetes/client-node";
import { kubeBinary, kubernetesVersion } from "../src/lab/control/binaries.ts";
import { APISERVER_PORT } from "../src/lab/control/paths.ts";
import { sleep } from "../src/lib/sleep.ts";
import { AgentCluster, deployedAgentNodeFlags, subnetOf } from "./agent-cluster.ts";
import { ipBatch, Scratch } from "./agent-scratch.ts";
import { ControlPlane, cpuSeconds, peakRssMb, rssMb } from "./flannel.ts";
import { percentile, printTable } from "./stats.ts";
import { until } from "../test/support/until.ts";

const SIZES = (process.env.BENCH_KPROXY_SERVICES ?? "1000,10000").split(",").map(Number);
const ROUNDS = Number(process.env.BENCH_KPROXY_ROUNDS ?? 20);
const CONNECTS = Number(process.env.BENCH_KPROXY_CONNECTS ?? 1000);
/** Blocks the connects of each proxy are taken in, alternating between the proxies. */
const CONNECT_BLOCKS = 5;
/** Connects each block makes first and leaves out. */
const WARMUP = 20;
const IPERF_SECONDS = Number(process.env.BENCH_KPROXY_IPERF_SECONDS ?? 3);
/** Rounds of (ClusterIP, pod IP) iperf3 pairs per proxy (BENCH_KPROXY_IPERF_ROUNDS). */
const IPERF_ROUNDS = Number(process.env.BENCH_KPROXY_IPERF_ROUNDS ?? 9);
const POLL_MS = 500;
const ENDPOINTS = 5;
const CLUSTER_CIDR = "10.244.0.0/16";
const SERVICE_CIDR = "10.96.0.0/12";
/** The agent's flags besides AgentCluster's (node name, iface eth0, vxlan, kubernetes store, kubeconfig, directories). */
const WEFT_FLAGS = ["--service-proxy", "--no-network-policy", "--service-cidr", SERVICE_CIDR, "--pod-cidr", CLUSTER_CIDR, "--api-port", "10249"];
const BACKEND_IP = "10.244.250.10";
const PROBE_IP = "10.96.15.1";
const NS = "bench";

/** Service i's ClusterIP: 10.96.16.0 + i. */
function clusterIp(i: number): string {
  const n = 16 * 256 + i;
  return `10.96.${n >> 8}.${n & 255}`;
}
/** Endpoint j of Service i (never routed: API objects only). */
function endpointIp(i: number, j: number): string {
  const n = i * 8 + j + 1;
  return `10.${200 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

// ---- API objects -----------------------------------------------------------

function serviceObject(name: string, ip: string, ports: { name: string; port: number; targetPort: number }[]): object {
  return { apiVersion: "v1", kind: "Service", metadata: { name, namespace: NS }, spec: { clusterIP: ip, clusterIPs: [ip], ports: ports.map((p) => ({ ...p, protocol: "TCP" })) } };
}
function sliceObject(service: string, addresses: string[], ports: { name: string; port: number }[]): object {
  return {
    apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice", addressType: "IPv4",
    metadata: { name: `${service}-a`, namespace: NS, labels: { "kubernetes.io/service-name": service, "endpointslice.kubernetes.io/managed-by": "bench.weft" } },
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true, serving: true, terminating: false } })),
    ports: ports.map((p) => ({ ...p, protocol: "TCP" })),
  };
}
const benchService = (i: number) => serviceObject(`s${i}`, clusterIp(i), [{ name: "http", port: 80, targetPort: 8080 }]);
const benchSlice = (i: number, n = ENDPOINTS) => sliceObject(`s${i}`, Array.from({ length: n }, (_, j) => endpointIp(i, j)), [{ name: "http", port: 8080 }]);

/** One API request as the helper process reports it: wall-clock ms just before sending, status. */
interface ApiReply {
  t0: number;
  status: number;
  body?: string;
}
type ApiCommand =
  | { op: "req"; method: string; path: string; body?: object; contentType?: string }
  | { op: "bulk"; from: number; to: number };

const wallNow = () => performance.timeOrigin + performance.now();

/**
 * The API client, run inside the control plane's namespace (the API server's
 * address exists only there): JSON commands on stdin, one JSON reply a line.
 */
async function apiHelper(kubeconfig: string): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const opts: { ca?: unknown; cert?: unknown; key?: unknown } = {};
  await kc.applyToHTTPSOptions(opts as never);
  const agent = new Agent({ keepAlive: true, maxSockets: 16, ca: opts.ca as string, cert: opts.cert as string, key: opts.key as string });
  const send = (method: string, path: string, body?: object, contentType = "application/json"): Promise<ApiReply> =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const t0 = wallNow();
      const req = request({ host: "127.0.0.1", port: APISERVER_PORT, method, path, agent, headers: data === undefined ? {} : { "content-type": contentType, "content-length": Buffer.byteLength(data) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ t0, status: res.statusCode ?? 0, body: (res.statusCode ?? 0) >= 300 ? Buffer.concat(chunks).toString().slice(0, 300) : undefined }));
      });
      req.on("error", reject);
      req.end(data);
    });
  const create = async (obj: object, plural: string, group: string): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      const r = await send("POST", `${group}/namespaces/${NS}/${plural}`, obj);
      if (r.status < 300 || r.status === 409) return;
      if (attempt > 5 || (r.status !== 429 && r.status < 500)) throw new Error(`POST ${plural}: ${r.status} ${r.body}`);
      await sleep(200 * (attempt + 1));
    }
  };
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const cmd = JSON.parse(line) as ApiCommand;
    let reply: object;
    try {
      if (cmd.op === "req") reply = await send(cmd.method, cmd.path, cmd.body, cmd.contentType);
      else {
        let next = cmd.from;
        const worker = async () => {
          for (let i = next++; i < cmd.to; i = next++) {
            await create(benchService(i), "services", "/api/v1");
            await create(benchSlice(i), "endpointslices", "/apis/discovery.k8s.io/v1");
          }
        };
        await Promise.all(Array.from({ length: 12 }, worker));
        reply = { t0: 0, status: 200 };
      }
    } catch (err) {
      reply = { t0: 0, status: 0, body: (err as Error).message };
    }
    process.stdout.write(JSON.stringify(reply) + "\n");
  }
  agent.destroy();
}

/** The driver's side of apiHelper. */
class Api {
  readonly #child: ChildProcess;
  readonly #replies: ((r: ApiReply) => void)[] = [];

  constructor(scratch: Scratch, ctlNs: string, kubeconfig: string) {
    this.#child = scratch.spawn(["ip", "netns", "exec", ctlNs, process.execPath, import.meta.filename, "--api", kubeconfig], { stdio: ["pipe", "pipe", "inherit"] });
    createInterface({ input: this.#child.stdout! }).on("line", (l) => this.#replies.shift()?.(JSON.parse(l) as ApiReply));
  }

  #call(cmd: ApiCommand): Promise<ApiReply> {
    return new Promise((resolve) => {
      this.#replies.push(resolve);
      this.#child.stdin!.write(JSON.stringify(cmd) + "\n");
    });
  }

  async req(method: string, path: string, body?: object, contentType?: string): Promise<ApiReply> {
    const r = await this.#call({ op: "req", method, path, ...(body === undefined ? {} : { body }), ...(contentType === undefined ? {} : { contentType }) });
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body ?? ""}`);
    return r;
  }

  /** Creates Services s<from>..s<to-1> with their slices, 12 requests in flight. */
  async bulk(from: number, to: number): Promise<void> {
    const r = await this.#call({ op: "bulk", from, to });
    if (r.status !== 200) throw new Error(`creating Services ${from}..${to - 1}: ${r.body}`);
  }

  close(): void {
    this.#child.stdin!.end();
  }
}

// ---- the two nodes ----------------------------------------------------------

interface ProxySide {
  name: "weft" | "kube-proxy";
  k: number;
  node: string;
  table: string;
  proc?: ChildProcess;
  /** Its log (stderr). */
  log: string;
  cpu: number;
  rss: number;
  /** RSS at the end of the run, settled (after the incremental rounds and the last connects). */
  rssEnd: number;
  clientNs: string;
  backendNs: string;
}

/** Client pod 10.244.K.2 and backend pod BACKEND_IP behind node K, routed by the node; servers in the backend. */
function wirePods(scratch: Scratch, nodeNs: string, k: number): { clientNs: string; backendNs: string } {
  const [clientNs, backendNs] = scratch.addNamespaces([`c${k}`, `b${k}`]) as [string, string];
  ipBatch([
    `link add vc type veth peer name eth0 netns ${clientNs}`, `addr add 10.244.${k}.1/24 dev vc`, "link set vc up",
    `link add vb type veth peer name eth0 netns ${backendNs}`, "addr add 10.244.250.1/24 dev vb", "link set vb up",
  ], nodeNs);
  ipBatch([`addr add 10.244.${k}.2/24 dev eth0`, "link set eth0 up", `route add default via 10.244.${k}.1`], clientNs);
  ipBatch([`addr add ${BACKEND_IP}/24 dev eth0`, "link set eth0 up", "route add default via 10.244.250.1"], backendNs);
  spawnSync("ip", ["netns", "exec", nodeNs, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  scratch.spawn(["ip", "netns", "exec", backendNs, "taskset", "-c", "1", "iperf3", "-s"], { stdio: "ignore" });
  scratch.spawn(["ip", "netns", "exec", backendNs, "taskset", "-c", "1", "iperf3", "-s", "-p", "5202"], { stdio: "ignore" });
  scratch.spawn(["ip", "netns", "exec", backendNs, "taskset", "-c", "1", process.execPath, "-e", "require('net').createServer((s) => s.on('error', () => {}).end()).listen(8080)"], { stdio: "ignore" });
  return { clientNs, backendNs };
}

function startProxy(scratch: Scratch, c: AgentCluster, side: ProxySide, kubeconfig: string, dir: string): void {
  if (side.name === "weft") {
    // The agent's flags: AgentCluster's for the kubernetes store plus WEFT_FLAGS; Node.js's: deploy/weft.yaml's.
    const a = c.startAgent(side.k, { nodeFlags: deployedAgentNodeFlags() });
    side.proc = a.child;
    side.log = a.log;
    return;
  }
  const fd = openSync(side.log, "a");
  const config = join(dir, "kube-proxy.yaml");
  writeFileSync(config, [
    "apiVersion: kubeproxy.config.k8s.io/v1alpha1",
    "kind: KubeProxyConfiguration",
    "mode: nftables",
    `hostnameOverride: ${side.node}`,
    `clusterCIDR: ${CLUSTER_CIDR}`,
    "clientConnection:",
    `  kubeconfig: ${kubeconfig}`,
    "metricsBindAddress: 127.0.0.1:10249",
    "healthzBindAddress: 127.0.0.1:10256",
    "conntrack:",
    "  maxPerCore: 0",
    "  tcpEstablishedTimeout: 0s",
    "  tcpCloseWaitTimeout: 0s",
    "nodePortAddresses: [primary]",
    "nftables:",
    "  minSyncPeriod: 100ms",
    "",
  ].join("\n"));
  side.proc = scratch.spawn(["ip", "netns", "exec", c.ns(side.k), kubeBinary("kube-proxy"), `--config=${config}`, "--v=2"], { stdio: ["ignore", fd, fd] });
  closeSync(fd);
}

async function stopProxy(c: AgentCluster, side: ProxySide): Promise<void> {
  const p = side.proc;
  if (!p || p.exitCode !== null) return;
  side.cpu += cpuSeconds(p.pid!);
  // VmHWM is the instance's lifetime peak: read once, before it ends.
  recordPeakRss(side);
  const gone = new Promise((resolve) => p.once("exit", resolve));
  p.kill("SIGTERM");
  await Promise.race([gone, sleep(10_000)]);
  if (p.exitCode === null) p.kill("SIGKILL");
  side.proc = undefined;
  spawnSync("ip", ["netns", "exec", c.ns(side.k), "nft", "delete", "table", "ip", side.table], { stdio: "ignore" });
}

function recordPeakRss(side: ProxySide): void {
  const pid = side.proc?.pid;
  if (pid === undefined || side.proc?.exitCode !== null) return;
  try {
    side.rss = Math.max(side.rss, peakRssMb(pid));
  } catch {
    // exited between the check and the read
  }
}

/** Elements of the proxy's service-ips map that send somewhere (`: goto`), or -1 when there is no such map yet. */
function serviceIpsCount(c: AgentCluster, side: ProxySide): number {
  const r = spawnSync("ip", ["netns", "exec", c.ns(side.k), "nft", "list", "map", "ip", side.table, "service-ips"], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) return -1;
  return r.stdout.split(": goto ").length - 1;
}

/** The proxy's own /metrics (both serve it on 127.0.0.1:10249 in their node's namespace). */
function scrapeMetrics(c: AgentCluster, side: ProxySide): string {
  return spawnSync("ip", ["netns", "exec", c.ns(side.k), "curl", "--silent", "--max-time", "5", "http://127.0.0.1:10249/metrics"], { encoding: "utf8" }).stdout;
}

/**
 * Mean sync duration so far by the proxy's own metric, ms: kube-proxy's full
 * syncs of IPv4 rules (kubeproxy_sync_full_proxy_rules_duration_seconds),
 * weft's syncs (weft_proxy_sync_duration_seconds; right after start that is
 * the one full sync).
 */
function ownSyncMs(metrics: string): number {
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{ip_family="IPv4"\\})? (\\S+)$`, "m").exec(metrics)?.[1] ?? NaN);
  for (const m of ["kubeproxy_sync_full_proxy_rules_duration_seconds", "weft_proxy_sync_duration_seconds"]) {
    const count = value(`${m}_count`);
    if (count > 0) return (value(`${m}_sum`) / count) * 1000;
    if (count === 0) return NaN;
  }
  return NaN;
}

/**
 * Starts the proxy and times its start until `want` service ports are in its
 * map (`polled`, to a tenth of that), and until the end of its first sync as it
 * reports it (`reported`: kube-proxy's log, the agent's
 * weft_proxy_last_sync_timestamp_seconds while it has made one sync; NaN
 * otherwise).
 */
async function timeFullSync(scratch: Scratch, c: AgentCluster, side: ProxySide, kubeconfig: string, dir: string, want: number): Promise<{ polled: number; reported: number }> {
  const t0 = performance.now();
  const t0Wall = wallNow();
  startProxy(scratch, c, side, kubeconfig, dir);
  // Polled every tenth of the time so far, between 50 and POLL_MS: a fixed
  // 500 ms step made the 1,000-Service row a count of steps (both ~1.1 s),
  // while listing a 10,000-element map every 50 ms would take CPU from the
  // proxy being timed.
  for (;;) {
    if (side.proc?.exitCode !== null) throw new Error(`${side.name} exited ${side.proc?.exitCode}; see ${side.log}`);
    if (serviceIpsCount(c, side) >= want) break;
    const elapsed = performance.now() - t0;
    if (elapsed > 30 * 60_000) throw new Error(`timed out after 30 min waiting for ${side.name}'s ${want} service ports in table ip ${side.table} (log: ${side.log})`);
    await sleep(Math.min(POLL_MS, Math.max(50, elapsed / 10)));
  }
  const ms = performance.now() - t0;
  const metrics = scrapeMetrics(c, side);
  writeFileSync(join(dir, `${side.name}-metrics-${want}.txt`), metrics);
  let end: number | undefined;
  if (side.name === "kube-proxy") end = kubeProxySyncs(readFileSync(side.log, "utf8")).find((x) => x.start >= t0Wall)?.end;
  else {
    const m = weftSyncMetrics(metrics);
    if (m.count === 1) end = m.last;
  }
  return { polled: ms, reported: end === undefined ? NaN : end - t0Wall };
}

/** One sync of a proxy as its log tells: wall-clock start and end, ms. */
interface LoggedSync {
  start: number;
  end: number;
}

/**
 * kube-proxy's IPv4 syncs from its log (--v=2): `"Syncing nftables rules"
 * ipFamily="IPv4"` when one starts and `"SyncProxyRules complete"
 * ipFamily="IPv4"` once its nft transaction has returned. klog writes local
 * time without the year.
 */
function kubeProxySyncs(log: string): LoggedSync[] {
  const year = new Date().getFullYear();
  const at = (m: RegExpExecArray) => new Date(year, Number(m[1]) - 1, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])).getTime() + Number(m[6]) / 1000;
  const out: LoggedSync[] = [];
  let start: number | undefined;
  for (const line of log.split("\n")) {
    if (!line.includes('ipFamily="IPv4"')) continue;
    const m = /^I(\d\d)(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6})/.exec(line);
    if (!m) continue;
    if (line.includes('"Syncing nftables rules"')) start = at(m);
    else if (line.includes('"SyncProxyRules complete"') && start !== undefined) {
      out.push({ start, end: at(m) });
      start = undefined;
    }
  }
  return out;
}

/** What the agent's /metrics says of its proxy's syncs: how many, their summed duration (s), when the last one ended (ms). */
interface WeftSyncMetrics {
  count: number;
  sum: number;
  last: number;
}
function weftSyncMetrics(metrics: string): WeftSyncMetrics {
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metrics)?.[1] ?? NaN);
  return { count: value("weft_proxy_sync_duration_seconds_count"), sum: value("weft_proxy_sync_duration_seconds_sum"), last: value("weft_proxy_last_sync_timestamp_seconds") * 1000 };
}

/** TCP connect() times (ms) from the client pod to `ip:port`, `n` in a row after WARMUP left out. */
function connectTimes(clientNs: string, ip: string, port: number, n: number): number[] {
  const script = `
const net = require("net");
const out = [];
(async () => {
  for (let i = 0; i < ${n + WARMUP}; i++) {
    await new Promise((resolve, reject) => {
      const t = process.hrtime.bigint();
      const s = net.connect({ host: "${ip}", port: ${port} }, () => { out.push(Number(process.hrtime.bigint() - t) / 1e6); s.destroy(); resolve(); });
      s.on("error", reject);
    });
  }
  process.stdout.write(JSON.stringify(out.slice(${WARMUP})));
})().catch((e) => { process.stderr.write(String(e)); process.exit(1); });`;
  const r = spawnSync("ip", ["netns", "exec", clientNs, "taskset", "-c", "0", process.execPath, "-e", script], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`connect to ${ip}:${port} from ${clientNs}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as number[];
}

/**
 * connect() times from each side's client pod to each target, keyed
 * `side|target`: CONNECTS each, in CONNECT_BLOCKS blocks that alternate the
 * order of the sides and of the targets.
 */
function connectBoth(sides: readonly ProxySide[], targets: readonly { name: string; ip: string; port: number }[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const per = Math.ceil(CONNECTS / CONNECT_BLOCKS);
  for (let b = 0; b < CONNECT_BLOCKS; b++) {
    for (const s of b % 2 === 0 ? sides : [...sides].reverse()) {
      for (const t of b % 2 === 0 ? targets : [...targets].reverse()) {
        const key = `${s.name}|${t.name}`;
        const times = out.get(key) ?? [];
        times.push(...connectTimes(s.clientNs, t.ip, t.port, per));
        out.set(key, times);
      }
    }
  }
  return out;
}

/** The received rate of iperf3's JSON report, Gbit/s. */
function iperfRate(what: string, stdout: string, stderr: string): number {
  const out = JSON.parse(stdout || "{}") as { end?: { sum_received?: { bits_per_second: number } }; error?: string };
  const bps = out.end?.sum_received?.bits_per_second;
  if (bps === undefined) throw new Error(`iperf3 ${what}: ${out.error ?? stderr}`);
  return bps / 1e9;
}

/** iperf3 from the client pod to `ip:port` (client on CPU 0), without blocking, so that two can run at once; Gbit/s. */
function iperfAsync(clientNs: string, ip: string, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const argv = ["netns", "exec", clientNs, "taskset", "-c", "0", "iperf3", "-c", ip, "-p", String(port), "-t", String(IPERF_SECONDS), "-O", "1", "-J"];
    const child = spawn("ip", argv, { stdio: ["ignore", "pipe", "pipe"], timeout: (IPERF_SECONDS + 30) * 1000 });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.once("error", reject);
    child.once("close", () => {
      try {
        resolve(iperfRate(`${clientNs} → ${ip}:${port}`, out, err));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Two iperf3 streams from the client pod at once: through the ClusterIP (to port 5201) and straight to the pod (port 5202); Gbit/s each. */
async function iperfSideBySide(clientNs: string): Promise<{ vip: number; direct: number }> {
  const [vip, direct] = await Promise.all([iperfAsync(clientNs, PROBE_IP, 5201), iperfAsync(clientNs, BACKEND_IP, 5202)]);
  return { vip, direct };
}

const fmtMs = (x: number) => (Number.isNaN(x) ? "-" : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : x >= 100 ? `${x.toFixed(0)} ms` : `${x.toFixed(x >= 10 ? 1 : 2)} ms`);
/** weft / kube-proxy for times and costs (lower is better): below 1 weft is ahead. */
const ratio = (w: number, k: number) => (k > 0 ? `${(w / k).toFixed(2)}` : "-");

export async function benchKubeProxy(): Promise<void> {
  const scratch = new Scratch("wkp");
  const rows: string[][] = [["measure", "weft", "kube-proxy", "weft/kube-proxy"]];
  const notes: string[] = [];
  let logDir: string | undefined;
  let weftLog: string | undefined;
  let failed: unknown;
  try {
    const c = new AgentCluster(scratch, "kubernetes", "k", "vxlan", WEFT_FLAGS);
    process.stderr.write("kube-proxy bench: starting etcd and kube-apiserver\n");
    const cp = await ControlPlane.start(scratch, c);
    c.setKubeconfig(cp.adminConf);
    const dir = scratch.tempDir("kproxy");
    logDir = dir;
    c.addNodes([1, 2]);
    const sides: ProxySide[] = [
      { name: "kube-proxy", k: 1, node: "node1", table: "kube-proxy", log: join(dir, "kube-proxy.log"), cpu: 0, rss: 0, rssEnd: NaN, ...wirePods(scratch, c.ns(1), 1) },
      { name: "weft", k: 2, node: "node2", table: "weft-proxy", log: join(c.dir, "node2.log"), cpu: 0, rss: 0, rssEnd: NaN, ...wirePods(scratch, c.ns(2), 2) },
    ];
    const [kp, wf] = sides as [ProxySide, ProxySide];
    weftLog = wf.log;
    const api = new Api(scratch, cp.lab.controlNs, cp.adminConf);
    const row = (name: string, w: number, k: number, f = fmtMs) => rows.push([name, f(w), f(k), ratio(w, k)]);

    // Nodes as a kubelet registers them, with their addresses (kube-proxy waits 30 s for a Node's IPs otherwise).
    for (const k of [1, 2]) {
      await api.req("POST", "/api/v1/nodes", {
        apiVersion: "v1", kind: "Node",
        metadata: { name: `node${k}`, labels: { "kubernetes.io/hostname": `node${k}` } },
        spec: { podCIDR: subnetOf(k), podCIDRs: [subnetOf(k)] },
        status: { addresses: [{ type: "InternalIP", address: `192.168.125.${100 + k}` }, { type: "Hostname", address: `node${k}` }] },
      });
    }
    await api.req("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    await api.req("POST", `/api/v1/namespaces/${NS}/services`, serviceObject("probe", PROBE_IP, [{ name: "http", port: 80, targetPort: 8080 }, { name: "iperf", port: 5201, targetPort: 5201 }]));
    await api.req("POST", `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`, sliceObject("probe", [BACKEND_IP], [{ name: "http", port: 8080 }, { name: "iperf", port: 5201 }]));
    // kubernetes:443 and probe's two ports
    const base = 3;

    // One Service: start both, then first packet and throughput.
    for (const s of sides) await timeFullSync(scratch, c, s, cp.adminConf, dir, base);
    // Each proxy runs on its own node, and the two nodes differ by a few per cent on the same path (the
    // reference rows: straight to the pod, which passes each proxy's base chains but no Service's rules).
    // So the ClusterIP's connects are also given over the pod's, measured beside them on the same node.
    const connects = (services: string) => {
      const t = connectBoth(sides, [{ name: "vip", ip: PROBE_IP, port: 80 }, { name: "direct", ip: BACKEND_IP, port: 8080 }]);
      const at = (side: string, what: string, p: number) => percentile(t.get(`${side}|${what}`)!, p);
      for (const p of [50, 99]) row(`connect() to a ClusterIP, ${services}, p${p}`, at("weft", "vip", p), at("kube-proxy", "vip", p));
      for (const p of [50, 99]) row(`  straight to the pod, beside it (reference), p${p}`, at("weft", "direct", p), at("kube-proxy", "direct", p));
      for (const p of [50, 99]) {
        const [w, k] = [at("weft", "vip", p) / at("weft", "direct", p), at("kube-proxy", "vip", p) / at("kube-proxy", "direct", p)];
        rows.push([`  ClusterIP over straight to the pod, same node, p${p}`, `${w.toFixed(2)}×`, `${k.toFixed(2)}×`, ratio(w, k)]);
      }
    };
    connects("1 Service");
    const tput: Record<string, { vip: number[]; direct: number[] }> = { weft: { vip: [], direct: [] }, "kube-proxy": { vip: [], direct: [] } };
    // Each round measures the ClusterIP and the pod IP back to back, in alternating order, so a
    // swing of the shared machine's load lands on both halves of a pair; the share of direct is the
    // median of the pairs' ratios.
    for (let r = 0; r < IPERF_ROUNDS; r++) {
      for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
        const order = r % 2 === 0 ? (["vip", "direct"] as const) : (["direct", "vip"] as const);
        for (const what of order) tput[s.name]![what].push(await iperfAsync(s.clientNs, what === "vip" ? PROBE_IP : BACKEND_IP, 5201));
      }
    }
    const med = (xs: number[]) => percentile(xs, 50);
    const gb = (x: number) => `${x.toFixed(2)} Gbit/s`;
    const shares = (t: { vip: number[]; direct: number[] }) => t.vip.map((v, i) => v / t.direct[i]!);
    const share = (t: { vip: number[]; direct: number[] }) => {
      const xs = shares(t);
      return `${med(xs).toFixed(3)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
    };
    rows.push([`throughput through the ClusterIP (median of ${IPERF_ROUNDS})`, gb(med(tput.weft!.vip)), gb(med(tput["kube-proxy"]!.vip)), (med(tput.weft!.vip) / med(tput["kube-proxy"]!.vip)).toFixed(2)]);
    rows.push(["  of direct to the pod IP, median of paired runs (range)", share(tput.weft!), share(tput["kube-proxy"]!), "(goal ≥ 0.95)"]);
    const together: Record<string, { vip: number[]; direct: number[] }> = { weft: { vip: [], direct: [] }, "kube-proxy": { vip: [], direct: [] } };
    for (let r = 0; r < IPERF_ROUNDS; r++) {
      for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
        const t = await iperfSideBySide(s.clientNs);
        together[s.name]!.vip.push(t.vip);
        together[s.name]!.direct.push(t.direct);
      }
    }
    rows.push([`  the two streams at once: ClusterIP's over the pod IP's (median of ${IPERF_ROUNDS}, range)`, share(together.weft!), share(together["kube-proxy"]!), "(goal ≥ 0.95)"]);
    // Each proxy's ClusterIP stream at the same moment, each node's client on CPU 0 and server on CPU 1:
    // weft's over kube-proxy's, which the machine's swings between runs do not reach.
    const across: number[] = [];
    for (let r = 0; r < IPERF_ROUNDS; r++) {
      const [w, k] = await Promise.all([iperfAsync(wf.clientNs, PROBE_IP, 5201), iperfAsync(kp.clientNs, PROBE_IP, 5201)]);
      across.push(w / k);
    }
    rows.push([`  both proxies' ClusterIP streams at once, weft's over kube-proxy's (median of ${IPERF_ROUNDS}, range)`, "", "", `${med(across).toFixed(2)} (${Math.min(...across).toFixed(2)}–${Math.max(...across).toFixed(2)})`]);

    // Full syncs.
    let made = 0;
    for (const n of SIZES) {
      for (const s of sides) await stopProxy(c, s);
      process.stderr.write(`kube-proxy bench: creating Services ${made}..${n - 1} with their EndpointSlices\n`);
      const t = performance.now();
      await api.bulk(made, n);
      notes.push(`created ${n - made} Services + EndpointSlices in ${fmtMs(performance.now() - t)}`);
      made = n;
      const times: Record<string, number> = {};
      const reported: Record<string, number> = {};
      const own: Record<string, number> = {};
      for (const s of [kp, wf]) {
        process.stderr.write(`kube-proxy bench: ${s.name}: full sync of ${n} Services\n`);
        const t = await timeFullSync(scratch, c, s, cp.adminConf, dir, n + base);
        times[s.name] = t.polled;
        reported[s.name] = t.reported;
        // The metric follows the kernel by a moment.
        own[s.name] = await until(`${s.name}'s sync metric`, () => {
          const v = ownSyncMs(scrapeMetrics(c, s));
          return Number.isNaN(v) ? undefined : v;
        }, 60_000, 200).catch(() => NaN);
      }
      row(`full sync, ${n} Services × ${ENDPOINTS} endpoints (start → all in the kernel)`, times.weft!, times["kube-proxy"]!);
      row("  start → its first sync's end, as the proxy reports it", reported.weft!, reported["kube-proxy"]!);
      row("  of which the sync itself (the proxy's own metric, mean)", own.weft!, own["kube-proxy"]!);
    }

    // Incremental, with the largest size present.
    const n = made;
    await sleep(3000);
    const lat: Record<string, Record<string, number[]>> = { weft: {}, "kube-proxy": {} };
    let weftMerged = 0;
    // From the API request to the end of the first sync that started after it (a sync ends when its nft
    // transaction has returned, i.e. the rules are in the kernel): kube-proxy's from its log, weft's from
    // the agent's metrics before the write and after it (one more sync: its end and duration; several
    // more between two reads: the last one's end, which is later than the first's).
    const syncEnd = async (s: ProxySide, what: string, t0: number, before: WeftSyncMetrics): Promise<number> => {
      if (s.name === "kube-proxy") return until(`${s.name}'s sync after ${what}`, () => kubeProxySyncs(readFileSync(s.log, "utf8")).find((x) => x.start >= t0 - 1)?.end, 30_000, 20);
      let seen = before;
      return until(`${s.name}'s sync after ${what}`, () => {
        const m = weftSyncMetrics(scrapeMetrics(c, s));
        if (!(m.count > seen.count)) return undefined;
        if (m.count > seen.count + 1) {
          weftMerged++;
          return m.last;
        }
        const start = m.last - (m.sum - seen.sum) * 1000;
        seen = m;
        return start >= t0 - 1 ? m.last : undefined;
      }, 30_000, 20);
    };
    const observe = async (what: string, write: () => Promise<ApiReply>) => {
      const before = weftSyncMetrics(scrapeMetrics(c, wf));
      const r = await write();
      for (const s of sides) {
        try {
          const end = await syncEnd(s, what, r.t0, before);
          (lat[s.name]![what] ??= []).push(end - r.t0);
        } catch (err) {
          notes.push(`${what}: ${s.name}: ${(err as Error).message}`);
        }
      }
      await sleep(300);
    };
    const slicePath = (i: number) => `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices/s${i}-a`;
    for (let r = 0; r < ROUNDS; r++) {
      const i = (r * 397) % n;
      const patch = (m: number) => api.req("PATCH", slicePath(i), { endpoints: (benchSlice(i, m) as { endpoints: object[] }).endpoints }, "application/merge-patch+json");
      await observe("+1 endpoint", () => patch(ENDPOINTS + 1));
      await observe("-1 endpoint", () => patch(ENDPOINTS));
      const j = n + r;
      // Its slice first, so the Service is programmed with its endpoints by the sync its own creation starts.
      await api.req("POST", `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`, benchSlice(j));
      await sleep(300);
      await observe("+1 Service", () => api.req("POST", `/api/v1/namespaces/${NS}/services`, benchService(j)));
    }
    if (weftMerged > 0) notes.push(`weft: ${weftMerged} observations saw several syncs between two reads of its metrics and took the last one's end`);
    for (const what of ["+1 endpoint", "-1 endpoint", "+1 Service"]) {
      for (const p of [50, 99]) row(`${what} with ${n} Services, API write → kernel, p${p}`, percentile(lat.weft![what] ?? [], p), percentile(lat["kube-proxy"]![what] ?? [], p));
    }

    connects(`${n} Services`);

    for (const s of sides) s.rssEnd = s.proc?.pid === undefined ? NaN : rssMb(s.proc.pid);
    for (const s of sides) await stopProxy(c, s);
    rows.push(["CPU seconds, every instance over the run (with nft)", `${wf.cpu.toFixed(1)} s`, `${kp.cpu.toFixed(1)} s`, ratio(wf.cpu, kp.cpu)]);
    rows.push(["highest RSS", `${wf.rss.toFixed(0)} MB`, `${kp.rss.toFixed(0)} MB`, ratio(wf.rss, kp.rss)]);
    rows.push([`RSS at the end, ${n} Services (settled)`, `${wf.rssEnd.toFixed(0)} MB`, `${kp.rssEnd.toFixed(0)} MB`, ratio(wf.rssEnd, kp.rssEnd)]);
    api.close();
    await c.close();
  } catch (err) {
    failed = err;
  } finally {
    if (process.env.BENCH_KPROXY_LOGS && logDir) {
      cpSync(logDir, process.env.BENCH_KPROXY_LOGS, { recursive: true });
      if (weftLog !== undefined) cpSync(weftLog, join(process.env.BENCH_KPROXY_LOGS, "weft.log"));
    }
    scratch.dispose();
  }
  process.stdout.write(`\nkube-proxy: weft's service proxy against kube-proxy ${kubernetesVersion()} --proxy-mode nftables, same API server, same run\n`);
  printTable(rows);
  for (const note of notes) process.stdout.write(`  ${note}\n`);
  process.stdout.write("ratios are weft / kube-proxy: below 1 weft is faster or cheaper (throughput: above 1 weft carries more)\n");
  if (failed !== undefined) throw failed;
}


if (import.meta.main) {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === "--api") await apiHelper(args[0]!);
  else await benchKubeProxy();
}
