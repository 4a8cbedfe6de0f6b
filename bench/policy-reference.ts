/**
 * bench/policy-reference: weft's network policy controller against a
 * reference policy engine, in one run, on one API server and one node.
 *
 * The reference is kube-router's network policy controller (iptables +
 * ipset), built from its Go module by scripts/kube-router.sh and run as
 * `kube-router --run-firewall --run-router=false --run-service-proxy=false`.
 * The reference issue 16 names, sigs.k8s.io/kube-network-policies, cannot
 * enforce anything on a kernel without nft_queue (bench/policy.ts checks
 * and says so), so this bench measures kube-router instead.
 *
 * The control plane is the lab's etcd and kube-apiserver (ControlPlane of
 * bench/flannel.ts). Node n1 is a namespace on the cluster's switch at
 * 192.168.125.101 with bench/policy.ts's three real pods (client, server,
 * victim) on its bridge; the API holds bench/policy.ts's world: 10
 * namespaces, 1,000 Pods (100 on n1, status with pod IP and host IP as a
 * kubelet writes it) and P NetworkPolicies. The two controllers run one
 * after the other in n1's namespace, each as its own process (weft's is
 * the agent's PolicyComponent: informers + controller, default options,
 * bundled and run with deploy/weft.yaml's Node.js flags as the agent is:
 * bench/policy-weft-main.ts),
 * over the same objects; n1's ruleset is flushed between them.
 *
 * For P = 0, 100, 1,000 (BENCH_POLICY_REF_SIZES), after the controller has
 * settled (its CPU time still for 1 s):
 *   - create→enforced: ROUNDS times, a NetworkPolicy isolating the victim is
 *     created through the API; the client probes the victim (TCP, 100 ms
 *     timeout) until the probe fails; timed from the POST to the start of
 *     the first failing probe (the probe loop's resolution is its period,
 *     ~10-20 ms). Then the policy is deleted and timed the same way until a
 *     probe passes again (delete→lifted);
 *   - at P = 0 and the largest P: the node's whole ruleset as the controller
 *     left it (`nft list ruleset`, `iptables-save`, `ipset save`, once two
 *     listings 1 s apart agree), for the data-plane rows below. The server is selected by P/100 policies
 *     allowing the client (and not the victim).
 * CPU: the controller process's user+system time (with its waited-for
 * children: iptables-restore, ipset, nft) from its start to its end; RSS:
 * its largest VmRSS sampled after each size.
 *
 * Data plane (TCP connects/s and one stream's throughput), after both
 * controllers have run: the two sides and a no-controller baseline take
 * turns, REPEATS times per size, in a rotating order (none, weft,
 * kube-router; then weft, kube-router, none; …), on the same pods, so a
 * change in the machine's load falls on all three alike. Each turn empties
 * n1's ruleset, ipsets and conntrack table, loads the ruleset its side left
 * (nothing for the baseline: no table, so no conntrack either), checks that
 * `nft list ruleset` and `ipset save` now read exactly as that snapshot
 * (so no leftover of the other side), and at the largest P that the victim
 * cannot reach the server while the client can (the rules enforce). What
 * is measured is the rules' per-packet cost: a settled controller does no
 * per-packet work of its own. Two paths to the server on n1:
 *   - same node: the client on n1's bridge (bridged, so n1's forward hook
 *     sees it through br_netfilter, on in every namespace by default);
 *   - cross node: a second client on node n2 (10.244.2.250, ns0/client-n2,
 *     app=client), routed over the switch into n1.
 * Per turn and path: `polprobe rate` (connect, read the greeting, close; 4
 * workers, RATE_SECONDS) and one iperf3 stream (`-t IPERF_SECONDS -O 1`:
 * the first second, slow start, is left out). Pinned alike for all three:
 * clients on CPU 0 (taskset; iperf3 -A 0,1), the servers on CPU 1. Reported:
 * the median over the turns, min–max, the ratio of weft's median to
 * kube-router's, and the paired ratio (weft over kube-router within each
 * turn, seconds apart; its median and min–max over the turns). A turn is
 * ~13 s per side and path pair; REPEATS = 9 makes the data plane ~14 min.
 * (With 5, a single stream's ±12% from one run to the next on this machine,
 * with no rules at all, let a throughput row's median land on either side
 * of kube-router's.)
 *
 * Environment (for shorter or steadier runs):
 *   BENCH_POLICY_REF_SIZES    policy counts (default 0,100,1000)
 *   BENCH_POLICY_REF_ROUNDS   create/delete rounds per size (default 5)
 *   BENCH_POLICY_REF_REPEATS  data-plane turns per side and size (default 9)
 *   BENCH_POLICY_REF_ONLY     `dataplane`: only the connects/s and throughput
 *                             rows (the controllers still run, at P = 0 and
 *                             the largest P, to leave their rules; no
 *                             create/delete rounds, no CPU/RSS rows)
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { KubeConfig } from "@kubernetes/client-node";
import { Agent, request } from "node:https";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ROOT } from "../src/lib/root.ts";
import { sleep } from "../src/lib/sleep.ts";
import type { NetworkPolicy, Peer, Pod, PolicyRule } from "../src/policy/types.ts";
import { AgentCluster, deployedAgentNodeFlags } from "./agent-cluster.ts";
import { ipBatch, Scratch } from "./agent-scratch.ts";
import { ControlPlane, cpuSeconds, rssMb } from "./flannel.ts";
import { CLIENT, POLPROBE, SERVER, VICTIM, world } from "./policy.ts";
import { ms, percentile, printTable } from "./stats.ts";

const KUBE_ROUTER_VERSION = "v2.1.0";
const SIZES = (process.env.BENCH_POLICY_REF_SIZES ?? "0,100,1000").split(",").map(Number);
const ROUNDS = Number(process.env.BENCH_POLICY_REF_ROUNDS ?? 5);
const REPEATS = Number(process.env.BENCH_POLICY_REF_REPEATS ?? 9);
const ONLY = process.env.BENCH_POLICY_REF_ONLY ?? "";
/** Data plane only: the controllers run just long enough to leave their rules at P = 0 and the largest P. */
const DATAPLANE_ONLY = ONLY === "dataplane";
const RATE_SECONDS = 2;
/** iperf3's run, of which the first second is omitted (-O 1). */
const IPERF_SECONDS = 4;
/** The cross-node client: a pod of node n2 that the server's policies allow (app=client in ns0). */
const CLIENT_N2 = "10.244.2.250";
/** Node n1's address on the switch (AgentCluster.addNodes gives node K 192.168.125.(100+K)). */
const N1_IP = "192.168.125.101";
const hostIpOf = (node: string) => (node === "n1" ? N1_IP : `192.168.125.${150 + Number(node.slice(1))}`);

// ---- the API, from inside n1's namespace --------------------------------

interface Api {
  send(method: string, path: string, body?: object, contentType?: string): Promise<{ status: number; body: string }>;
  close(): void;
}

async function connect(kubeconfig: string): Promise<Api> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const opts: { ca?: unknown; cert?: unknown; key?: unknown } = {};
  await kc.applyToHTTPSOptions(opts as never);
  const server = new URL(kc.getCurrentCluster()!.server);
  const agent = new Agent({ keepAlive: true, maxSockets: 12, ca: opts.ca as string, cert: opts.cert as string, key: opts.key as string });
  return {
    send: (method, path, body, contentType = "application/json") =>
      new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : JSON.stringify(body);
        const req = request({ host: server.hostname, port: server.port, method, path, agent, headers: data === undefined ? {} : { "content-type": contentType, "content-length": Buffer.byteLength(data) } }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        });
        req.on("error", reject);
        req.end(data);
      }),
    close: () => agent.destroy(),
  };
}

async function must(api: Api, method: string, path: string, body?: object, contentType?: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const r = await api.send(method, path, body, contentType);
    if (r.status < 300) return;
    if (attempt > 5 || (r.status !== 429 && r.status < 500)) throw new Error(`${method} ${path}: ${r.status} ${r.body.slice(0, 300)}`);
    await sleep(200 * (attempt + 1));
  }
}

/** Runs `fn` over `items`, 12 at a time. */
async function inFlight<T>(items: readonly T[], fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 12 }, async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
  }));
}

const v1Peer = (p: Peer) => ({ ...(p.podSelector && { podSelector: p.podSelector }), ...(p.namespaceSelector && { namespaceSelector: p.namespaceSelector }), ...(p.ipBlock && { ipBlock: p.ipBlock }) });
const v1Ports = (r: PolicyRule) => (r.ports ?? []).map((p) => ({ protocol: p.protocol, ...(p.port !== undefined && { port: p.port }), ...(p.endPort !== undefined && { endPort: p.endPort }) }));

function v1Policy(p: NetworkPolicy): object {
  return {
    apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy",
    metadata: { namespace: p.namespace, name: p.name },
    spec: {
      podSelector: p.podSelector,
      ingress: p.ingress.map((r) => ({ ...(r.peers?.length && { from: r.peers.map(v1Peer) }), ...(r.ports?.length && { ports: v1Ports(r) }) })),
      egress: p.egress.map((r) => ({ ...(r.peers?.length && { to: r.peers.map(v1Peer) }), ...(r.ports?.length && { ports: v1Ports(r) }) })),
      ...(p.policyTypes && { policyTypes: p.policyTypes }),
    },
  };
}

/** Creates the Pod and writes the status a kubelet would (Running, pod IP, host IP). */
async function createPod(api: Api, p: Pod): Promise<void> {
  await must(api, "POST", `/api/v1/namespaces/${p.namespace}/pods`, {
    apiVersion: "v1", kind: "Pod",
    metadata: { namespace: p.namespace, name: p.name, labels: p.labels },
    spec: { nodeName: p.node, automountServiceAccountToken: false, containers: [{ name: "c", image: "registry.invalid/none", ports: p.ports.map((x) => ({ name: x.name, containerPort: x.port, protocol: x.protocol })) }] },
  });
  await must(api, "PATCH", `/api/v1/namespaces/${p.namespace}/pods/${p.name}/status`, {
    status: { phase: "Running", hostIP: hostIpOf(p.node), hostIPs: [{ ip: hostIpOf(p.node) }], podIP: p.ips[0], podIPs: p.ips.map((ip) => ({ ip })) },
  }, "application/merge-patch+json");
}

// ---- the driver, in n1's namespace ---------------------------------------

interface Side {
  name: "weft" | "kube-router";
  start(): ChildProcess;
  /** True once the controller has programmed its first ruleset. */
  ready(): boolean;
}

interface SideResult {
  /** Per size: create→enforced and delete→lifted, ms. */
  create: Map<number, number[]>;
  remove: Map<number, number[]>;
  /** Per size (0 and the largest): the node's ruleset once the controller had settled. */
  rules: Map<number, Ruleset>;
  cpu: number;
  rss: number;
}

const nsExec = (ns: string, argv: string[]) => spawnSync("ip", ["netns", "exec", ns, ...argv], { encoding: "utf8" });

function probe(clientNs: string, timeoutMs: number): boolean {
  const r = nsExec(clientNs, [POLPROBE, "probe", String(timeoutMs), `tcp:${VICTIM}:80`]);
  return (JSON.parse(r.stdout) as Record<string, boolean>)[`tcp:${VICTIM}:80`] === true;
}

/** One TCP probe (300 ms) from `ns` to `ip`:80. */
function probeFrom(ns: string, ip: string): boolean {
  const r = nsExec(ns, [POLPROBE, "probe", "300", `tcp:${ip}:80`]);
  return (JSON.parse(r.stdout) as Record<string, boolean>)[`tcp:${ip}:80`] === true;
}

/** Probes until the victim's reachability is `want`; returns ms from `t0` to the start of the first such probe. */
async function until(clientNs: string, want: boolean, t0: number, what: string): Promise<number> {
  for (;;) {
    const t = performance.now();
    if (probe(clientNs, 100) === want) return t - t0;
    if (t - t0 > 120_000) throw new Error(`${what}: the victim was still ${want ? "cut off" : "reachable"} after 120 s`);
    await sleep(0);
  }
}

/** Waits until `pid` has used no CPU for 1 s (the controller has caught up). */
async function settle(pid: number): Promise<void> {
  const deadline = Date.now() + 300_000;
  let last = cpuSeconds(pid);
  let still = 0;
  while (still < 4) {
    await sleep(250);
    const now = cpuSeconds(pid);
    still = now - last < 0.005 ? still + 1 : 0;
    last = now;
    if (Date.now() > deadline) throw new Error(`process ${pid} did not settle in 300 s`);
  }
}

// ---- the data plane: the rules each side left, taking turns -------------

/** n1's filtering state as a side left it; restored as it was for each of that side's turns. */
interface Ruleset {
  /** `nft list ruleset`: weft's table, or the iptables-nft tables kube-router wrote. */
  nft: string;
  iptables: string;
  ip6tables: string;
  ipset: string;
}

function run(argv: string[], input?: string): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${(r.stderr || r.stdout).slice(0, 500)}`);
  return r.stdout;
}

function snapshot(): Ruleset {
  return { nft: run(["nft", "list", "ruleset"]), iptables: run(["iptables-save"]), ip6tables: run(["ip6tables-save"]), ipset: run(["ipset", "save"]) };
}

/**
 * The ruleset once two listings 1 s apart agree: a controller whose own CPU
 * is still may yet be running a sync in a child (kube-router's queued
 * iptables-restore and ipset runs), and a listing taken then is half of one.
 */
async function steadyRules(side: string): Promise<Ruleset> {
  let last = snapshot();
  for (let i = 0; i < 60; i++) {
    await sleep(1000);
    const now = snapshot();
    if ((["nft", "iptables", "ipset"] as const).every((k) => canonical(now[k]) === canonical(last[k]))) return now;
    last = now;
  }
  throw new Error(`${side}'s ruleset kept changing for 60 s after the controller settled`);
}

/**
 * A listing to compare: counters and comment lines (iptables-save's dates) left out, one item per line (a set's elements
 * are listed in hash order and wrapped anyhow), sorted.
 */
function canonical(listing: string): string {
  return listing.replace(/packets \d+ bytes \d+/g, "").replace(/\[\d+:\d+\]/g, "").split(/[\n,]/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#")).sort().join("\n");
}

/** Empties n1's ruleset and ipsets, loads `rules` (none: the baseline) and checks the node now holds exactly that. */
function load(rules: Ruleset | undefined, what: string): void {
  run(["nft", "flush", "ruleset"]);
  run(["ipset", "destroy"]);
  if (rules) {
    if (rules.ipset.trim()) run(["ipset", "restore"], rules.ipset);
    if (/^\*/m.test(rules.iptables)) run(["iptables-restore"], rules.iptables);
    if (/^\*/m.test(rules.ip6tables)) run(["ip6tables-restore"], rules.ip6tables);
    // weft's table is not iptables'; what iptables-restore made is in the listing already.
    const rest = rules.nft.split(/^(?=table )/m).filter((t) => /^table inet weft-policy /.test(t)).join("");
    if (rest) run(["nft", "-f", "-"], rest);
  }
  const now = snapshot();
  for (const key of ["nft", "ipset"] as const) {
    const a = canonical(now[key]).split("\n");
    const b = canonical(rules?.[key] ?? "").split("\n");
    if (a.join("\n") !== b.join("\n")) {
      const [inA, inB] = [new Set(a), new Set(b)];
      const extra = a.filter((l) => !inB.has(l)).slice(0, 10);
      const lacking = b.filter((l) => !inA.has(l)).slice(0, 10);
      throw new Error(`n1's ${key} listing for ${what} differs from the one its controller left (${a.length} against ${b.length} items); now has ${JSON.stringify(extra)}, lacks ${JSON.stringify(lacking)}`);
    }
  }
  // A fresh conntrack table: no entry of an earlier turn decides a packet of this one.
  spawnSync("conntrack", ["-F"], { stdio: "ignore" });
}

interface Turn {
  rate: number;
  gbps: number;
  /** iperf3's retransmitted segments: a turn that lost packets says so in the log. */
  retransmits: number;
}

/** The paths measured: the client namespace and its label. */
interface Path {
  name: string;
  ns: string;
}

/** One turn on one path: TCP connects/s (polprobe rate) and one stream's Gbit/s (iperf3), client pinned to CPU 0, server to CPU 1. */
function turn(path: Path, what: string): Turn {
  const r = nsExec(path.ns, ["taskset", "-c", "0", POLPROBE, "rate", SERVER, "80", String(RATE_SECONDS), "4"]);
  const rate = JSON.parse(r.stdout || "{}") as { errors?: number; perSecond?: number };
  if (rate.perSecond === undefined || (rate.errors ?? 0) > 0) throw new Error(`TCP connects to the server failed ${path.name} under ${what}: ${r.stdout.slice(0, 300)}${r.stderr.slice(0, 300)}`);
  // A stream that moved nothing after its first second stalled (seen once in ~100 turns, with no controller
  // at all, on the loaded machine): that is no figure for the rules; it runs once more, and twice is an error.
  for (let attempt = 1; ; attempt++) {
    const iperf = nsExec(path.ns, ["iperf3", "-c", SERVER, "-t", String(IPERF_SECONDS), "-O", "1", "-A", "0,1", "-J", "--connect-timeout", "2000"]);
    const out = JSON.parse(iperf.stdout || "{}") as { error?: string; end?: { sum_received?: { bits_per_second: number }; sum_sent?: { retransmits?: number } } };
    const bps = out.end?.sum_received?.bits_per_second ?? 0;
    if (bps > 0) return { rate: rate.perSecond, gbps: bps / 1e9, retransmits: out.end?.sum_sent?.retransmits ?? 0 };
    if (attempt === 2) throw new Error(`iperf3 to the server moved nothing ${path.name} under ${what}, twice: ${out.error ?? iperf.stdout.slice(0, 300)}`);
    process.stderr.write(`policy-reference: iperf3 ${path.name} under ${what} moved nothing (${out.error ?? "a stalled stream"}); once more\n`);
  }
}

type Variant = "none" | "weft" | "kube-router";
const VARIANTS: readonly Variant[] = ["none", "weft", "kube-router"];

/** Per size, path and variant: every turn's figures. */
type Dataplane = [number, [string, Record<Variant, Turn[]>][]][];

/**
 * The three variants take turns REPEATS times per size, each turn starting
 * one later in the list than the one before, so no variant always follows
 * the same one.
 */
function dataplane(left: Record<"weft" | "kube-router", Map<number, Ruleset>>, paths: Path[], victimNs: string, say: (l: string) => void): Dataplane {
  const out: Dataplane = [];
  const largest = Math.max(...SIZES);
  for (const p of [...new Set([0, largest])]) {
    const byPath = paths.map((path) => [path.name, { none: [], weft: [], "kube-router": [] }] as [string, Record<Variant, Turn[]>]);
    say(`data plane with ${p} policies: ${REPEATS} turns of none, weft and kube-router`);
    for (let rep = 0; rep < REPEATS; rep++) {
      for (let k = 0; k < VARIANTS.length; k++) {
        const v = VARIANTS[(rep + k) % VARIANTS.length]!;
        const what = v === "none" ? "no controller" : `${v}'s rules for ${p} policies`;
        load(v === "none" ? undefined : left[v].get(p), what);
        if (p > 0 && v !== "none") {
          if (probeFrom(victimNs, SERVER) || !probeFrom(paths[0]!.ns, SERVER)) throw new Error(`${what} do not enforce: the victim should not reach the server, the client should`);
        }
        paths.forEach((path, i) => {
          const t = turn(path, what);
          byPath[i]![1][v].push(t);
          say(`  turn ${rep + 1}, ${v}, ${path.name}: ${Math.round(t.rate)} connects/s, ${t.gbps.toFixed(2)} Gbit/s (${t.retransmits} retransmits)`);
        });
      }
    }
    out.push([p, byPath]);
  }
  load(undefined, "the end");
  return out;
}

async function measureSide(api: Api, side: Side, clientNs: string, say: (l: string) => void): Promise<SideResult> {
  const res: SideResult = { create: new Map(), remove: new Map(), rules: new Map(), cpu: 0, rss: 0 };
  const child = side.start();
  // Not left behind if this driver dies first (its namespace outlives no process of ours).
  const reap = () => child.kill("SIGKILL");
  process.once("exit", reap);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let dead = "";
  child.once("exit", (code, sig) => (dead = `${side.name} exited (${code ?? sig})`));
  try {
    const t = performance.now();
    while (!side.ready()) {
      if (dead) throw new Error(dead);
      if (performance.now() - t > 120_000) throw new Error(`${side.name} programmed no rules in 120 s`);
      await sleep(100);
    }
    let present = 0;
    const largest = Math.max(...SIZES);
    for (const p of DATAPLANE_ONLY ? [...new Set([0, largest])] : SIZES) {
      const extra = world(p).policies.slice(present);
      await inFlight(extra, (pol) => must(api, "POST", `/apis/networking.k8s.io/v1/namespaces/${pol.namespace}/networkpolicies`, v1Policy(pol)));
      present = p;
      await settle(child.pid!);
      if (dead) throw new Error(dead);
      await until(clientNs, true, performance.now(), `${side.name} with ${p} policies, before isolating`);
      if (DATAPLANE_ONLY) {
        res.rules.set(p, await steadyRules(side.name));
        continue;
      }
      say(`${side.name}: ${p} policies in place; timing ${ROUNDS} create/delete rounds`);
      const create: number[] = [];
      const remove: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const pol: NetworkPolicy = { namespace: "ns0", name: `isolate-victim-${r}`, podSelector: { matchLabels: { app: "victim" } }, ingress: [], egress: [] };
        const t0 = performance.now();
        await must(api, "POST", "/apis/networking.k8s.io/v1/namespaces/ns0/networkpolicies", v1Policy(pol));
        create.push(await until(clientNs, false, t0, `${side.name} with ${p} policies, isolating`));
        const t1 = performance.now();
        await must(api, "DELETE", `/apis/networking.k8s.io/v1/namespaces/ns0/networkpolicies/${pol.name}`);
        remove.push(await until(clientNs, true, t1, `${side.name} with ${p} policies, lifting`));
      }
      res.create.set(p, create);
      res.remove.set(p, remove);
      if (p === 0 || p === largest) {
        await settle(child.pid!);
        res.rules.set(p, await steadyRules(side.name));
      }
      res.rss = Math.max(res.rss, rssMb(child.pid!));
    }
    res.cpu = cpuSeconds(child.pid!);
    return res;
  } finally {
    child.kill("SIGTERM");
    await Promise.race([exited, sleep(10_000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    process.removeListener("exit", reap);
    // Back to no policies and an empty ruleset for the next side.
    await inFlight(Array.from({ length: 10 }, (_, i) => `ns${i}`), (ns) => must(api, "DELETE", `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`));
    spawnSync("nft", ["flush", "ruleset"]);
    spawnSync("ipset", ["destroy"]);
  }
}

/** Runs in n1's namespace: creates the world's objects, measures both sides, prints their results as JSON. */
async function drive(kubeconfig: string, clientNs: string, client2Ns: string, victimNs: string, kubeRouter: string, logDir: string): Promise<void> {
  const say = (l: string) => process.stderr.write(`policy-reference: ${l}\n`);
  const api = await connect(kubeconfig);
  try {
    const w = world(0);
    w.pods.push({ namespace: "ns0", name: "client-n2", labels: { app: "client" }, ips: [CLIENT_N2], node: "n2", hostNetwork: false, ports: [] });
    const nodes = [...new Set(w.pods.map((p) => p.node))];
    await inFlight(nodes, (n) => must(api, "POST", "/api/v1/nodes", {
      apiVersion: "v1", kind: "Node", metadata: { name: n, labels: { "kubernetes.io/hostname": n } },
      status: { addresses: [{ type: "InternalIP", address: hostIpOf(n) }, { type: "Hostname", address: n }] },
    }));
    await inFlight(w.namespaces, async (n) => {
      await must(api, "POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: n.name, labels: n.labels } });
      // What the controller manager (not run here) would make, and ServiceAccount admission wants.
      await must(api, "POST", `/api/v1/namespaces/${n.name}/serviceaccounts`, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default" } });
    });
    const t = performance.now();
    await inFlight(w.pods, (p) => createPod(api, p));
    say(`${w.pods.length} Pods created in ${ms(performance.now() - t)}`);

    const nftTable = () => spawnSync("nft", ["list", "table", "inet", "weft-policy"], { stdio: "ignore" }).status === 0;
    const sides: Side[] = [
      {
        name: "weft",
        // Bundled and with the DaemonSet's Node.js flags, as the agent runs (bench/policy-weft-main.ts).
        start: () => spawn(process.execPath, [...deployedAgentNodeFlags(), join(ROOT, "build/bench-policy-weft.mjs"), kubeconfig], { stdio: ["ignore", "ignore", "inherit"] }),
        ready: nftTable,
      },
      {
        name: "kube-router",
        start: () => {
          const log = join(logDir, "kube-router.log");
          const fd = `exec "$0" "$@" >${log} 2>&1`;
          return spawn("sh", ["-c", fd, kubeRouter, "--run-firewall=true", "--run-router=false", "--run-service-proxy=false", `--kubeconfig=${kubeconfig}`, "--hostname-override=n1", "--health-port=0"], { stdio: "ignore" });
        },
        ready: () => /KUBE-ROUTER-FORWARD/.test(spawnSync("iptables-save", ["-t", "filter"], { encoding: "utf8" }).stdout),
      },
    ];
    const out: Record<string, unknown> = {};
    const left = {} as Record<"weft" | "kube-router", Map<number, Ruleset>>;
    for (const side of sides) {
      say(`measuring ${side.name}`);
      const r = await measureSide(api, side, clientNs, say);
      out[side.name] = { create: [...r.create], remove: [...r.remove], cpu: r.cpu, rss: r.rss };
      left[side.name] = r.rules;
    }
    // Each snapshot must hold its own side's rules only (the node was emptied before each side started).
    for (const [p, r] of left.weft) if (/KUBE-/.test(r.nft + r.iptables) || r.ipset.trim()) throw new Error(`weft's ruleset at ${p} policies holds kube-router's chains or ipsets`);
    for (const [p, r] of left["kube-router"]) if (/weft-policy/.test(r.nft)) throw new Error(`kube-router's ruleset at ${p} policies holds weft's table`);
    out.dataplane = dataplane(left, [{ name: "same node", ns: clientNs }, { name: "cross node", ns: client2Ns }], victimNs, say);
    process.stdout.write(JSON.stringify(out) + "\n");
  } finally {
    api.close();
  }
}

/** The path of kube-router, built (once) by scripts/kube-router.sh; throws with the script's own words. */
function kubeRouterBinary(): string {
  const r = spawnSync("sh", [join(ROOT, "scripts/kube-router.sh")], { encoding: "utf8", env: { ...process.env, KUBE_ROUTER_VERSION }, stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`scripts/kube-router.sh could not provide kube-router ${KUBE_ROUTER_VERSION} (see its message above)`);
  return r.stdout.trim().split("\n").at(-1)!;
}

type Out = { dataplane: Dataplane } & Record<"weft" | "kube-router", { create: [number, number[]][]; remove: [number, number[]][]; cpu: number; rss: number }>;

export async function benchPolicyReference(): Promise<void> {
  if (SIZES.length === 0 || SIZES.some((n) => !Number.isInteger(n) || n < 0 || n > 5000) || !Number.isInteger(ROUNDS) || ROUNDS < 1 || !Number.isInteger(REPEATS) || REPEATS < 1 || !["", "dataplane"].includes(ONLY)) {
    throw new Error(`BENCH_POLICY_REF_SIZES must be policy counts from 0 to 5000 (got ${SIZES.join(",")}), BENCH_POLICY_REF_ROUNDS and BENCH_POLICY_REF_REPEATS whole numbers from 1 (got ${ROUNDS}, ${REPEATS}), BENCH_POLICY_REF_ONLY empty or "dataplane" (got "${ONLY}")`);
  }
  const missing = ["iptables", "iptables-save", "iptables-restore", "ip6tables-save", "ip6tables-restore", "ipset", "iperf3", "taskset", "conntrack"].filter((c) => spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0);
  if (missing.length > 0) throw new Error(`bench policy-reference needs ${missing.join(", ")} (Debian: apt-get install iptables ipset iperf3 util-linux conntrack)`);
  const kubeRouter = kubeRouterBinary();
  // weft's side runs build/bench-policy-weft.mjs: made now if a source is newer.
  if (spawnSync(process.execPath, [join(ROOT, "scripts/bundle.ts")], { stdio: ["ignore", "ignore", "inherit"] }).status !== 0) throw new Error("scripts/bundle.ts failed (see its message above)");
  const scratch = new Scratch("wbpr");
  let out: Out;
  try {
    const c = new AgentCluster(scratch, "kubernetes", "r");
    process.stderr.write("policy-reference: starting etcd and kube-apiserver\n");
    const cp = await ControlPlane.start(scratch, c);
    c.addNodes([1, 2]);
    const node = c.ns(1);
    const node2 = c.ns(2);
    const [client, server, victim, client2] = scratch.addNamespaces(["c", "s", "v", "c2"]);
    const lines: string[] = ["link add weft0 type bridge", "addr add 10.244.1.1/24 dev weft0", "link set weft0 up", "route add 10.244.2.0/24 via 192.168.125.102"];
    for (const [i, pod] of [client, server, victim].entries()) lines.push(`link add vp${i} type veth peer name eth0 netns ${pod}`, `link set vp${i} master weft0 up`);
    ipBatch(lines, node);
    ipBatch(["link add weft0 type bridge", "addr add 10.244.2.1/24 dev weft0", "link set weft0 up", "route add 10.244.1.0/24 via 192.168.125.101", `link add vp0 type veth peer name eth0 netns ${client2}`, "link set vp0 master weft0 up"], node2);
    for (const [pod, ip] of [[client, CLIENT], [server, SERVER], [victim, VICTIM]] as const) ipBatch([`addr add ${ip}/24 dev eth0`, "link set eth0 up", "route add default via 10.244.1.1"], pod);
    ipBatch([`addr add ${CLIENT_N2}/24 dev eth0`, "link set eth0 up", "route add default via 10.244.2.1"], client2);
    for (const n of [node, node2]) spawnSync("ip", ["netns", "exec", n, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    // The connect-rate turns (tens of thousands of connections each) share the clients: let them reuse
    // ports in TIME_WAIT, or later turns would run out of them.
    for (const n of [client!, client2!]) spawnSync("ip", ["netns", "exec", n, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1", "net.ipv4.ip_local_port_range=1024 65535"]);
    scratch.spawn(["ip", "netns", "exec", server!, "taskset", "-c", "1", "iperf3", "-s"], { stdio: "ignore" });
    for (const [pod, name] of [[server, "server"], [victim, "victim"]] as const) {
      const s = scratch.spawn(["ip", "netns", "exec", pod!, "taskset", "-c", "1", POLPROBE, "serve", name, "80"], { stdio: ["ignore", "pipe", "inherit"] });
      await new Promise<void>((resolve) => s.stdout!.once("data", () => resolve()));
    }
    const logDir = scratch.tempDir("polref");
    const child = spawnSync("ip", ["netns", "exec", node, process.execPath, "--disable-warning=ExperimentalWarning", import.meta.filename, "--drive", cp.adminConf, client!, client2!, victim!, kubeRouter, logDir], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 });
    if (child.status !== 0) {
      const log = spawnSync("tail", ["-n", "20", join(logDir, "kube-router.log")], { encoding: "utf8" }).stdout;
      throw new Error(`the policy reference bench's driver exited ${child.status}${log ? `; kube-router's log ends:\n${log}` : ""}`);
    }
    out = JSON.parse(child.stdout) as Out;
    await c.close();
  } finally {
    scratch.dispose();
  }
  report(out);
}

function report(out: Out): void {
  const w = out.weft;
  const k = out["kube-router"];
  const get = <T>(xs: [number, T][], p: number) => xs.find(([n]) => n === p)?.[1];
  const ratio = (a: number, b: number, higherBetter = false) => (higherBetter ? a / b : b / a).toFixed(2) + "×";
  const title = `policy-reference: weft against kube-router ${KUBE_ROUTER_VERSION}'s network policy controller (iptables + ipset), one API server, node n1, 1,000 Pods`;
  if (!DATAPLANE_ONLY) {
    const rows = [["measure", "weft", `kube-router ${KUBE_ROUTER_VERSION}`, "weft ahead by"]];
    for (const p of SIZES) {
      for (const [label, key] of [["create→enforced", "create"], ["delete→lifted", "remove"]] as const) {
        const a = get(w[key], p)!;
        const b = get(k[key], p)!;
        for (const q of [50, 95]) rows.push([`${label} p${q}, ${p} policies`, ms(percentile(a, q)), ms(percentile(b, q)), ratio(percentile(a, q), percentile(b, q))]);
      }
    }
    rows.push(["CPU, whole run (controller)", `${w.cpu.toFixed(2)} s`, `${k.cpu.toFixed(2)} s`, ratio(w.cpu, k.cpu)]);
    rows.push(["RSS, largest", `${Math.round(w.rss)} MB`, `${Math.round(k.rss)} MB`, ratio(w.rss, k.rss)]);
    process.stdout.write(`\n${title}, ${ROUNDS} rounds per size\n`);
    printTable(rows);
    process.stdout.write("create→enforced: POST of a policy isolating a real pod → first probe the pod refuses; delete→lifted: DELETE → first probe it answers (probe period ~10-20 ms)\n");
  }
  const median = (xs: number[]) => percentile(xs, 50);
  const cell = (xs: number[], fmt: (x: number) => string) => `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
  const perSec = (x: number) => `${Math.round(x)}/s`;
  const gbit = (x: number) => x.toFixed(2);
  const rows = [["data plane: median (min–max)", "no controller", "weft", `kube-router ${KUBE_ROUTER_VERSION}`, "weft ahead by", "paired", "weft / none"]];
  for (const [p, paths] of out.dataplane) {
    for (const [path, v] of paths) {
      for (const [label, key, fmt] of [["TCP connects/s", "rate", perSec], ["throughput, Gbit/s", "gbps", gbit]] as const) {
        const [n, a, b] = VARIANTS.map((x) => v[x].map((t) => t[key]));
        // The ratio within each turn (weft's and kube-router's figures seconds apart), over the turns.
        const paired = a!.map((x, i) => x / b![i]!);
        rows.push([`${label}, ${path}, ${p} policies`, cell(n!, fmt), cell(a!, fmt), cell(b!, fmt), ratio(median(a!), median(b!), true), cell(paired, (x) => x.toFixed(2) + "×"), ratio(median(a!), median(n!), true)]);
      }
    }
  }
  process.stdout.write(`\n${title}: data plane, ${REPEATS} interleaved turns per side and size\n`);
  printTable(rows);
  process.stdout.write("weft ahead by: the ratio of the medians; paired: weft's figure over kube-router's of the same turn, median (min–max) over the turns\n");
  process.stdout.write(`each turn: n1's ruleset, ipsets and conntrack emptied, the side's rules loaded as its controller left them (listings checked), polprobe rate ${RATE_SECONDS} s (4 workers) and one iperf3 stream ${IPERF_SECONDS} s (-O 1); clients on CPU 0, servers on CPU 1\n`);
  process.stdout.write("kube-router, not sigs.k8s.io/kube-network-policies: that one needs nft's queue statement (nft_queue), which this kernel lacks (bench/policy.ts checks)\n");
}

if (import.meta.main) {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === "--drive") await drive(args[0]!, args[1]!, args[2]!, args[3]!, args[4]!, args[5]!);
  else await benchPolicyReference();
}
