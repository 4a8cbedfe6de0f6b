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
 *   - at P = 0 and the largest P: TCP connect rate (polprobe rate, 3 s, 4
 *     workers) and one TCP stream's throughput (iperf3, median of 3 × 2 s)
 *     client→server;
 *     the server is selected by P/100 policies allowing the client.
 * BENCH_POLICY_REF_SIZES (default 0,100,1000) and BENCH_POLICY_REF_ROUNDS
 * (default 5) choose a shorter or longer run.
 * CPU: the controller process's user+system time (with its waited-for
 * children: iptables-restore, ipset, nft) from its start to its end; RSS:
 * its largest VmRSS sampled after each size.
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
  rate: Map<number, number>;
  gbps: Map<number, number>;
  cpu: number;
  rss: number;
}

const nsExec = (ns: string, argv: string[]) => spawnSync("ip", ["netns", "exec", ns, ...argv], { encoding: "utf8" });

function probe(clientNs: string, timeoutMs: number): boolean {
  const r = nsExec(clientNs, [POLPROBE, "probe", String(timeoutMs), `tcp:${VICTIM}:80`]);
  return (JSON.parse(r.stdout) as Record<string, boolean>)[`tcp:${VICTIM}:80`] === true;
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

/** TCP connects/s client→server (polprobe rate, 3 s, 4 workers) and one stream's Gbit/s (iperf3, median of three 2 s runs). */
function dataplane(clientNs: string, what: string): { rate: number; gbps: number } {
  const rate = JSON.parse(nsExec(clientNs, [POLPROBE, "rate", SERVER, "80", "3", "4"]).stdout) as { errors: number; perSecond: number };
  if (rate.errors > 0) throw new Error(`${rate.errors} connections to the server failed under ${what}`);
  // The median of three runs: the machine is shared, one run alone swings by tens of per cent.
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const iperf = nsExec(clientNs, ["iperf3", "-c", SERVER, "-t", "2", "-J", "--connect-timeout", "2000"]);
    const received = (JSON.parse(iperf.stdout || "{}") as { end?: { sum_received?: { bits_per_second: number } } }).end?.sum_received;
    if (!received) throw new Error(`iperf3 to the server failed under ${what}: ${iperf.stdout.slice(0, 300)}`);
    runs.push(received.bits_per_second / 1e9);
  }
  return { rate: rate.perSecond, gbps: percentile(runs, 50) };
}

async function measureSide(api: Api, side: Side, clientNs: string, say: (l: string) => void): Promise<SideResult> {
  const res: SideResult = { create: new Map(), remove: new Map(), rate: new Map(), gbps: new Map(), cpu: 0, rss: 0 };
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
    for (const p of SIZES) {
      const extra = world(p).policies.slice(present);
      await inFlight(extra, (pol) => must(api, "POST", `/apis/networking.k8s.io/v1/namespaces/${pol.namespace}/networkpolicies`, v1Policy(pol)));
      present = p;
      await settle(child.pid!);
      if (dead) throw new Error(dead);
      await until(clientNs, true, performance.now(), `${side.name} with ${p} policies, before isolating`);
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
        const d = dataplane(clientNs, `${side.name} with ${p} policies`);
        res.rate.set(p, d.rate);
        res.gbps.set(p, d.gbps);
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
async function drive(kubeconfig: string, clientNs: string, kubeRouter: string, logDir: string): Promise<void> {
  const say = (l: string) => process.stderr.write(`policy-reference: ${l}\n`);
  const api = await connect(kubeconfig);
  try {
    const w = world(0);
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
    // The same two figures with no controller and an empty ruleset: the noise floor of the rows below.
    const out: Record<string, unknown> = { baseline: dataplane(clientNs, "no controller") };
    for (const side of sides) {
      say(`measuring ${side.name}`);
      const r = await measureSide(api, side, clientNs, say);
      out[side.name] = { create: [...r.create], remove: [...r.remove], rate: [...r.rate], gbps: [...r.gbps], cpu: r.cpu, rss: r.rss };
    }
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

export async function benchPolicyReference(): Promise<void> {
  if (SIZES.length === 0 || SIZES.some((n) => !Number.isInteger(n) || n < 0 || n > 5000) || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
    throw new Error(`BENCH_POLICY_REF_SIZES must be policy counts from 0 to 5000 (got ${SIZES.join(",")}) and BENCH_POLICY_REF_ROUNDS a whole number from 1 (got ${ROUNDS})`);
  }
  const missing = ["iptables", "iptables-save", "iptables-restore", "ipset", "iperf3"].filter((c) => spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0);
  if (missing.length > 0) throw new Error(`bench policy-reference needs ${missing.join(", ")} (Debian: apt-get install iptables ipset iperf3)`);
  const kubeRouter = kubeRouterBinary();
  // weft's side runs build/bench-policy-weft.mjs: made now if a source is newer.
  if (spawnSync(process.execPath, [join(ROOT, "scripts/bundle.ts")], { stdio: ["ignore", "ignore", "inherit"] }).status !== 0) throw new Error("scripts/bundle.ts failed (see its message above)");
  const scratch = new Scratch("wbpr");
  let out: { baseline: { rate: number; gbps: number } } & Record<"weft" | "kube-router", { create: [number, number[]][]; remove: [number, number[]][]; rate: [number, number][]; gbps: [number, number][]; cpu: number; rss: number }>;
  try {
    const c = new AgentCluster(scratch, "kubernetes", "r");
    process.stderr.write("policy-reference: starting etcd and kube-apiserver\n");
    const cp = await ControlPlane.start(scratch, c);
    c.addNodes([1]);
    const node = c.ns(1);
    const [client, server, victim] = scratch.addNamespaces(["c", "s", "v"]);
    const lines: string[] = ["link add weft0 type bridge", "addr add 10.244.1.1/24 dev weft0", "link set weft0 up"];
    for (const [i, pod] of [client, server, victim].entries()) lines.push(`link add vp${i} type veth peer name eth0 netns ${pod}`, `link set vp${i} master weft0 up`);
    ipBatch(lines, node);
    for (const [pod, ip] of [[client, CLIENT], [server, SERVER], [victim, VICTIM]] as const) ipBatch([`addr add ${ip}/24 dev eth0`, "link set eth0 up", "route add default via 10.244.1.1"], pod);
    spawnSync("ip", ["netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    // Both sides' connect-rate runs (tens of thousands of connections) share the client: let it reuse
    // ports in TIME_WAIT, or the second side would run out of them.
    spawnSync("ip", ["netns", "exec", client!, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1", "net.ipv4.ip_local_port_range=1024 65535"]);
    scratch.spawn(["ip", "netns", "exec", server!, "iperf3", "-s"], { stdio: "ignore" });
    for (const [pod, name] of [[server, "server"], [victim, "victim"]] as const) {
      const s = scratch.spawn(["ip", "netns", "exec", pod!, POLPROBE, "serve", name, "80"], { stdio: ["ignore", "pipe", "inherit"] });
      await new Promise<void>((resolve) => s.stdout!.once("data", () => resolve()));
    }
    const logDir = scratch.tempDir("polref");
    const child = spawnSync("ip", ["netns", "exec", node, process.execPath, "--disable-warning=ExperimentalWarning", import.meta.filename, "--drive", cp.adminConf, client!, kubeRouter, logDir], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 });
    if (child.status !== 0) {
      const log = spawnSync("tail", ["-n", "20", join(logDir, "kube-router.log")], { encoding: "utf8" }).stdout;
      throw new Error(`the policy reference bench's driver exited ${child.status}${log ? `; kube-router's log ends:\n${log}` : ""}`);
    }
    out = JSON.parse(child.stdout) as typeof out;
    await c.close();
  } finally {
    scratch.dispose();
  }
  const w = out.weft;
  const k = out["kube-router"];
  const get = <T>(xs: [number, T][], p: number) => xs.find(([n]) => n === p)?.[1];
  const ratio = (a: number, b: number, higherBetter = false) => (higherBetter ? a / b : b / a).toFixed(2) + "×";
  const rows = [["measure", "weft", `kube-router ${KUBE_ROUTER_VERSION}`, "weft ahead by"]];
  for (const p of SIZES) {
    for (const [label, key] of [["create→enforced", "create"], ["delete→lifted", "remove"]] as const) {
      const a = get(w[key], p)!;
      const b = get(k[key], p)!;
      for (const q of [50, 95]) rows.push([`${label} p${q}, ${p} policies`, ms(percentile(a, q)), ms(percentile(b, q)), ratio(percentile(a, q), percentile(b, q))]);
    }
  }
  for (const [p, a] of w.rate) {
    const b = get(k.rate, p)!;
    rows.push([`TCP connects/s, ${p} policies`, `${Math.round(a)}/s`, `${Math.round(b)}/s`, ratio(a, b, true)]);
    const ga = get(w.gbps, p)!;
    const gb = get(k.gbps, p)!;
    rows.push([`TCP throughput, ${p} policies`, `${ga.toFixed(2)} Gbit/s`, `${gb.toFixed(2)} Gbit/s`, ratio(ga, gb, true)]);
  }
  rows.push(["CPU, whole run (controller)", `${w.cpu.toFixed(2)} s`, `${k.cpu.toFixed(2)} s`, ratio(w.cpu, k.cpu)]);
  rows.push(["RSS, largest", `${Math.round(w.rss)} MB`, `${Math.round(k.rss)} MB`, ratio(w.rss, k.rss)]);
  process.stdout.write(`\npolicy-reference: weft against kube-router ${KUBE_ROUTER_VERSION}'s network policy controller (iptables + ipset), one API server, node n1, 1,000 Pods, ${ROUNDS} rounds per size\n`);
  printTable(rows);
  process.stdout.write(`no controller, empty ruleset (the same pods, before either side): ${Math.round(out.baseline.rate)} TCP connects/s, ${out.baseline.gbps.toFixed(2)} Gbit/s\n`);
  process.stdout.write("create→enforced: POST of a policy isolating a real pod → first probe the pod refuses; delete→lifted: DELETE → first probe it answers (probe period ~10-20 ms)\n");
  process.stdout.write("kube-router, not sigs.k8s.io/kube-network-policies: that one needs nft's queue statement (nft_queue), which this kernel lacks (bench/policy.ts checks)\n");
}

if (import.meta.main) {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === "--drive") await drive(args[0]!, args[1]!, args[2]!, args[3]!);
  else await benchPolicyReference();
}
