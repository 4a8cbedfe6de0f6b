/**
 * bench/flannel: weft against flannel, the reference a flannel user compares
 * with, in one run on the same machine, the same underlay and the same
 * Kubernetes API server; both add-ons as installed (vxlan, masquerading).
 *
 *   flannel   flanneld built from its Go module at FLANNEL_VERSION by
 *             scripts/flannel.sh (cached under ${WEFT_CACHE:-/var/cache/weft}),
 *             run as kube-flannel.yml runs it: --kube-subnet-mgr --ip-masq,
 *             NODE_NAME in its environment, net-conf.json {Network, vxlan};
 *   weft      the shipped agent (build/weft-agent.mjs) with --store kubernetes,
 *             and the Node.js flags deploy/weft.yaml gives it (NODE_OPTIONS).
 *
 * The control plane is the lab's (src/lab/control: its PKI, and etcd and
 * kube-apiserver with the lab's flags) in namespace ctl at 192.168.125.100
 * on the cluster's switch. The bench creates each Node itself, with its
 * spec.podCIDR set to the node's 10.244.K.0/24 (as the controller manager's
 * --allocate-node-cidrs would), so the controller manager and the scheduler
 * are not run. Both agents use the lab's admin kubeconfig (system:masters):
 * node credentials would need one certificate per bench node.
 *
 * Measured, one side after the other (weft first), on nodes 1..N−1 (weft)
 * and 61..60+N−1 (flannel) of the one switch:
 *
 *   convergence  at each size in SIZES, REPS times: a new node's Node is
 *                created, then its agent starts; times from the agent's
 *                start until the first and until every other node's kernel
 *                has the route to its podCIDR (`ip -ts monitor route` in
 *                each node, agent-events.ts), so the agent's own start-up
 *                counts, as it does on a node. Then its agent is killed and
 *                its Node deleted: time from `kubectl delete node` starting
 *                until the route is gone on every node. (A `kubectl get
 *                nodes --watch` hears events tens of ms after the agents do,
 *                too late to time from.)
 *   RSS          VmRSS of every agent of the largest cluster (N−1 agents,
 *                each with N−2 peers programmed), SETTLE_S after it meshed;
 *                and the CPU all of them used in those SETTLE_S idle seconds
 *                (/proc/PID/stat), which is what the convergence at 50
 *                nodes competes with on a small machine.
 *   throughput   iperf3 TCP pod → pod across two nodes (throughput.ts's
 *                iperf): weft's pods made by the weft CNI plugin; flannel's
 *                by the reference bridge + host-local plugins in
 *                /usr/lib/cni, configured as flannel's CNI plugin delegates
 *                (bridge cni0 as gateway, hairpin, FLANNEL_MTU, the node's
 *                FLANNEL_SUBNET), through libcni (build/cniclient). Both
 *                pairs exist at once and alternate, ROUNDS × SECONDS s.
 *
 * BENCH_FLANNEL_SIZES (default 10,50; at most 50), BENCH_FLANNEL_REPS
 * (default 3), BENCH_SETTLE_S (default 12), BENCH_IPERF_ROUNDS (default 8)
 * and BENCH_IPERF_SECONDS (default 2) choose a shorter or longer run.
 */
import { spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { formatPrefix, parseInterfaceAddress } from "../src/lib/ipv4.ts";
import { kubeBinary } from "../src/lab/control/binaries.ts";
import { controlPlaneDaemons } from "../src/lab/control/components.ts";
import { APISERVER_PORT, controlPaths } from "../src/lab/control/paths.ts";
import { writeLabPki } from "../src/lab/control/pki.ts";
import { CONTROL_IP, labLayout, type LabLayout } from "../src/lab/layout.ts";
import { AgentCluster, deployedAgentNodeFlags, subnetOf } from "./agent-cluster.ts";
import { RouteMonitor, wallNow } from "./agent-events.ts";
import { Scratch } from "./agent-scratch.ts";
import { ms, percentile, printTable } from "./stats.ts";
import { iperf, startServer } from "./throughput.ts";
import { podIp, weftPods, type PodPair } from "./throughput-topology.ts";
import { GiveUp, until } from "../test/support/until.ts";
import { sleep } from "../src/lib/sleep.ts";

const root = resolve(import.meta.dirname, "..");
const FLANNEL_VERSION = "v0.28.10";
const SIZES = (process.env.BENCH_FLANNEL_SIZES ?? "10,50").split(",").map(Number);
const REPS = Number(process.env.BENCH_FLANNEL_REPS ?? 3);
const SETTLE_S = Number(process.env.BENCH_SETTLE_S ?? 12);
const ROUNDS = Number(process.env.BENCH_IPERF_ROUNDS ?? 8);
const SECONDS = Number(process.env.BENCH_IPERF_SECONDS ?? 2);
const POD_CIDR = "10.244.0.0/16";
/** Node K of a side is K = offset + i: weft's 1..49 and new 50..59, flannel's 61..109 and new 110..119. */
const MAX_SIZE = 50;
const MAX_NEW = 10;

/** The path of flanneld, built (once) by scripts/flannel.sh; throws with the script's own words. */
function flanneld(): string {
  const r = spawnSync("sh", [join(root, "scripts/flannel.sh")], { encoding: "utf8", env: { ...process.env, FLANNEL_VERSION }, stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`scripts/flannel.sh could not provide flanneld ${FLANNEL_VERSION} (see its message above)`);
  return r.stdout.trim().split("\n").at(-1)!;
}

/**
 * CPU time process `pid` has used so far, in seconds: user + system, its
 * own and its waited-for children's (weft runs `ip`, `bridge` and `nft`,
 * flannel `iptables`).
 */
export function cpuSeconds(pid: number): number {
  // Fields after the command's closing parenthesis: utime, stime, cutime, cstime are the 12th to 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLOCK_TICKS;
}
/** USER_HZ: /proc's unit of CPU time on Linux. */
const CLOCK_TICKS = 100;

/** The resident memory of process `pid`, MB. */
export function rssMb(pid: number): number {
  return statusMb(pid, "VmRSS");
}

/** The highest resident set `pid` has had in its life (VmHWM), in MB: a peak no sampling misses. */
export function peakRssMb(pid: number): number {
  return statusMb(pid, "VmHWM");
}

function statusMb(pid: number, field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;
}

/** etcd and kube-apiserver of the lab, in their own namespace on the cluster's switch, and kubectl against them. */
export class ControlPlane {
  readonly lab: LabLayout;

  private constructor(lab: LabLayout) {
    this.lab = lab;
  }

  /** Makes the PKI, starts etcd and the API server and waits for /readyz. */
  static async start(scratch: Scratch, c: AgentCluster): Promise<ControlPlane> {
    const dir = scratch.tempDir("control");
    const ns = c.addHost("ctl", CONTROL_IP);
    const lab: LabLayout = { ...labLayout("bench"), dir, logsDir: join(dir, "logs"), controlNs: ns };
    mkdirSync(lab.logsDir);
    await writeLabPki(lab, []);
    mkdirSync(controlPaths(lab).etcdDir, { mode: 0o700 });
    for (const d of controlPlaneDaemons(lab, { podCidr: POD_CIDR, nodeCidrLen: 24 })) {
      if (d.name !== "control-etcd" && d.name !== "kube-apiserver") continue;
      const fd = openSync(d.log, "a");
      scratch.spawn(d.argv, { stdio: ["ignore", fd, fd] });
      closeSync(fd);
    }
    const readyz = ["ip", "netns", "exec", ns, "curl", "--silent", "--max-time", "2", "--cacert", controlPaths(lab).caCert, `https://127.0.0.1:${APISERVER_PORT}/readyz`];
    await until(`kube-apiserver's /readyz (log: ${join(lab.logsDir, "kube-apiserver.log")})`, () => spawnSync(readyz[0]!, readyz.slice(1), { encoding: "utf8" }).stdout.trim() === "ok", 120_000, 250);
    return new ControlPlane(lab);
  }

  get adminConf(): string {
    return controlPaths(this.lab).adminConf;
  }

  #kubectlArgv(args: readonly string[]): string[] {
    return ["ip", "netns", "exec", this.lab.controlNs, kubeBinary("kubectl"), `--kubeconfig=${this.adminConf}`, `--cache-dir=${join(this.lab.dir, "kubectl-cache")}`, ...args];
  }

  kubectl(args: readonly string[], input?: string): string {
    const argv = this.#kubectlArgv(args);
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", input });
    if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /**
   * Creates Nodes `node<K>` with spec.podCIDR 10.244.K.0/24, as the
   * controller manager would allocate, and the label and annotation a
   * kubelet registers its Node with (flanneld v0.28.10 panics, "assignment
   * to entry in nil map", on a Node with no annotations at all).
   */
  createNodes(ks: readonly number[]): void {
    const items = ks.map((k) => ({
      apiVersion: "v1", kind: "Node",
      metadata: { name: `node${k}`, labels: { "kubernetes.io/hostname": `node${k}` }, annotations: { "volumes.kubernetes.io/controller-managed-attach-detach": "true" } },
      spec: { podCIDR: subnetOf(k), podCIDRs: [subnetOf(k)] },
    }));
    this.kubectl(["create", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }));
  }

  deleteNodes(ks: readonly number[]): void {
    if (ks.length > 0) this.kubectl(["delete", "node", "--wait=false", ...ks.map((k) => `node${k}`)]);
  }
}

/** One add-on on nodes of the shared switch: how to start and stop its agent and count its routes. */
interface Side {
  name: "weft" | "flannel";
  /** Node numbers of this side are offset + 1, offset + 2, … */
  offset: number;
  /** Called once the node's namespace exists. */
  prepare(k: number): void;
  start(k: number): void;
  ready(k: number): Promise<void>;
  stop(k: number): Promise<void>;
  pid(k: number): number;
  routeCount(k: number): number;
}

/** One add-and-remove of a new node; times from `ip -ts monitor route` on the other nodes. */
interface Cycle {
  /** Agent started → route on every other node. */
  converge: number;
  /** Agent started → route on the first other node. */
  first: number;
  /** `kubectl delete node` started (after the agent was killed) → route gone on every other node. */
  remove: number;
  /** CPU seconds all the other agents used together from the new agent's start until its route was gone everywhere. */
  cpu: number;
}

interface SideResult {
  side: Side["name"];
  bySize: { size: number; cycles: Cycle[] }[];
  /** VmRSS of each agent of the largest cluster, MB. */
  rss: number[];
  rssSize: number;
  /** CPU all agents of the largest cluster used while idle (the settle window), % of one core. */
  idleCpu: number;
}

function weftSide(c: AgentCluster): Side {
  const nodeFlags = deployedAgentNodeFlags();
  return {
    name: "weft",
    offset: 0,
    prepare: () => {},
    start: (k) => void c.startAgent(k, { nodeFlags }),
    ready: (k) => c.waitReady(k),
    stop: (k) => c.stopAgent(k),
    pid: (k) => c.agent(k).child.pid!,
    routeCount: (k) => c.routeCount(k),
  };
}

function flannelSide(scratch: Scratch, c: AgentCluster, cp: ControlPlane, bin: string): Side {
  const procs = new Map<number, ChildProcess>();
  const netConf = join(c.dir, "net-conf.json");
  writeFileSync(netConf, JSON.stringify({ Network: POD_CIDR, Backend: { Type: "vxlan" } }));
  return {
    name: "flannel",
    offset: 60,
    // Forwarding is the node's (kubeadm's preflight checks it); flannel does not turn it on.
    prepare: (k) => void spawnSync("ip", ["netns", "exec", c.ns(k), "sysctl", "-qw", "net.ipv4.ip_forward=1"]),
    start: (k) => {
      mkdirSync(flannelDir(c, k), { recursive: true });
      const fd = openSync(join(c.dir, `flannel${k}.log`), "a");
      procs.set(k, scratch.spawn(["ip", "netns", "exec", c.ns(k), bin, "--kube-subnet-mgr", `--kubeconfig-file=${cp.adminConf}`, "--iface=eth0", "--ip-masq",
        `--net-config-path=${netConf}`, `--subnet-file=${join(flannelDir(c, k), "subnet.env")}`], { env: { ...process.env, NODE_NAME: `node${k}` }, stdio: ["ignore", fd, fd] }));
      closeSync(fd);
    },
    ready: async (k) => {
      const log = join(c.dir, `flannel${k}.log`);
      const tail = () => readFileSync(log, "utf8").trimEnd().split("\n").filter((l, i, all) => /^(panic|[EF]\d{4} )/.test(l) || i >= all.length - 3).slice(-8).join("\n  ");
      try {
        await until(`flanneld on node${k} to write its subnet file`, () => {
          const p = procs.get(k);
          if (p && p.exitCode !== null) throw new GiveUp(`flanneld on node${k} exited with ${p.exitCode}`);
          return existsSync(join(flannelDir(c, k), "subnet.env"));
        }, 120_000, 100);
      } catch (err) {
        throw new Error(`${(err as Error).message}; its log ends:\n  ${tail()}`);
      }
    },
    stop: async (k) => {
      const p = procs.get(k)!;
      procs.delete(k);
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGKILL");
      await exited;
    },
    pid: (k) => procs.get(k)!.pid!,
    routeCount: (k) => {
      const r = spawnSync("ip", ["-n", c.ns(k), "-4", "route", "show", "dev", "flannel.1"], { encoding: "utf8" });
      return r.status === 0 ? r.stdout.split("\n").filter((l) => l.trim() !== "").length : -1;
    },
  };
}

function flannelDir(c: AgentCluster, k: number): string {
  return join(c.dir, `flannel${k}`);
}

/** Grows `side` through SIZES, timing REPS new nodes at each, then its RSS; leaves only its first two nodes running. */
async function runSide(c: AgentCluster, cp: ControlPlane, scratch: Scratch, side: Side, say: (line: string) => void): Promise<SideResult> {
  const routes = new RouteMonitor(scratch);
  const base: number[] = [];
  const result: SideResult = { side: side.name, bySize: [], rss: [], rssSize: 0, idleCpu: 0 };
  let next = side.offset + MAX_SIZE;
  for (const size of SIZES) {
    const more = Array.from({ length: size - 1 - base.length }, (_, i) => side.offset + base.length + i + 1);
    c.addNodes(more);
    for (const k of more) {
      side.prepare(k);
      routes.watch(k, c.ns(k));
    }
    cp.createNodes(more);
    const t0 = performance.now();
    for (const k of more) side.start(k);
    await Promise.all(more.map((k) => side.ready(k)));
    base.push(...more);
    await until(`${side.name}: routes between all ${base.length} nodes`, () => base.every((k) => side.routeCount(k) === base.length - 1), 180_000, 250);
    say(`${side.name}: ${base.length} agents up and meshed (+${more.length} in ${((performance.now() - t0) / 1000).toFixed(1)} s); adding node ${base.length + 1} ${REPS} times`);
    const cycles: Cycle[] = [];
    for (let r = 0; r < REPS; r++) {
      const k = next++;
      const subnet = subnetOf(k);
      c.addNodes([k]);
      side.prepare(k);
      cp.createNodes([k]);
      const cpu0 = base.reduce((sum, j) => sum + cpuSeconds(side.pid(j)), 0);
      const since = wallNow();
      side.start(k);
      const added = await routes.waitAll(base, subnet, false, since);
      await side.stop(k);
      const goneSince = wallNow();
      cp.deleteNodes([k]);
      const deleted = await routes.waitAll(base, subnet, true, goneSince);
      const cpu = base.reduce((sum, j) => sum + cpuSeconds(side.pid(j)), 0) - cpu0;
      c.removeNode(k);
      cycles.push({ converge: Math.max(...added) - since, first: Math.min(...added) - since, remove: Math.max(...deleted) - goneSince, cpu });
    }
    result.bySize.push({ size, cycles });
  }
  say(`${side.name}: ${base.length} agents settling ${SETTLE_S} s before reading their RSS`);
  const cpu0 = base.map((k) => cpuSeconds(side.pid(k)));
  const t0 = performance.now();
  await sleep(SETTLE_S * 1000);
  const used = base.map((k, i) => cpuSeconds(side.pid(k)) - cpu0[i]!).reduce((a, b) => a + b, 0);
  result.idleCpu = (100 * used) / ((performance.now() - t0) / 1000);
  result.rss = base.map((k) => rssMb(side.pid(k)));
  result.rssSize = base.length;
  // Keep the first two nodes (the throughput pair); the rest go, Nodes and all.
  const gone = base.slice(2);
  for (const k of gone) await side.stop(k);
  cp.deleteNodes(gone);
  for (const k of gone) c.removeNode(k);
  return result;
}

/** One pod on each of flannel's first two nodes, wired as flannel's CNI plugin delegates to bridge + host-local. */
function flannelPods(scratch: Scratch, c: AgentCluster, ks: readonly [number, number], cniclient: string): PodPair {
  const pods = scratch.addNamespaces(ks.map((k) => `fp${k}`)) as [string, string];
  ks.forEach((k, i) => {
    const env = Object.fromEntries(readFileSync(join(flannelDir(c, k), "subnet.env"), "utf8").split("\n").filter((l) => l.includes("=")).map((l) => l.split("=", 2) as [string, string]));
    const dir = join(flannelDir(c, k), "cni");
    mkdirSync(join(dir, "conf"), { recursive: true });
    const bridge = {
      type: "bridge", bridge: "cni0", isGateway: true, isDefaultGateway: true, hairpinMode: true,
      ipMasq: env["FLANNEL_IPMASQ"] !== "true", mtu: Number(env["FLANNEL_MTU"]),
      ipam: { type: "host-local", ranges: [[{ subnet: formatPrefix(parseInterfaceAddress(env["FLANNEL_SUBNET"]!, "FLANNEL_SUBNET").prefix) }]], dataDir: join(dir, "ipam") },
    };
    writeFileSync(join(dir, "conf", "10-flannel.conflist"), JSON.stringify({ cniVersion: "1.0.0", name: "cbr0", plugins: [bridge] }));
    const r = spawnSync("ip", ["netns", "exec", c.ns(k), cniclient, "--conf-dir", join(dir, "conf"), "--path", "/usr/lib/cni", "--cache-dir", join(dir, "cache"),
      "add", "cbr0", `/run/netns/${pods[i]}`, "eth0", `bench-flannel-${k}`], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`CNI ADD of a flannel pod on node${k} failed: ${r.stderr.trim() || r.stdout.trim()}`);
  });
  return { pods, serverIp: podIp(pods[1]) };
}

/** Runs the benchmark and prints its tables. */
export async function benchFlannel(): Promise<void> {
  const say = (line: string) => process.stderr.write(`flannel: ${line}\n`);
  if (SIZES.some((n) => !Number.isInteger(n) || n < 3 || n > MAX_SIZE) || !(REPS >= 1) || SIZES.length * REPS > MAX_NEW) {
    throw new Error(`BENCH_FLANNEL_SIZES must be sizes from 3 to ${MAX_SIZE} and sizes × BENCH_FLANNEL_REPS at most ${MAX_NEW} (got ${SIZES.join(",")} × ${REPS})`);
  }
  const bin = flanneld();
  const cniclient = join(root, "build/cniclient");
  if (!existsSync(cniclient)) throw new Error(`${cniclient} is missing; run scripts/setup.sh`);
  const version = spawnSync(bin, ["--version"], { encoding: "utf8" });
  const scratch = new Scratch("wbf");
  try {
    const c = new AgentCluster(scratch, "kubernetes", "k");
    say("starting etcd and kube-apiserver at 192.168.125.100 (the lab's PKI and flags)");
    const cp = await ControlPlane.start(scratch, c);
    c.setKubeconfig(cp.adminConf);
    const weft = weftSide(c);
    const flannel = flannelSide(scratch, c, cp, bin);
    const results = [await runSide(c, cp, scratch, weft, say), await runSide(c, cp, scratch, flannel, say)];

    say(`throughput: ${ROUNDS} rounds × ${SECONDS} s, weft and flannel alternating`);
    const pairs = { weft: weftPods(scratch, c, "wp"), flannel: flannelPods(scratch, c, [flannel.offset + 1, flannel.offset + 2], cniclient) };
    const gbits: Record<Side["name"], number[]> = { weft: [], flannel: [] };
    for (const pair of Object.values(pairs)) await startServer(scratch, pair);
    for (const pair of Object.values(pairs)) iperf(pair, 1); // warm-up: ARP, FDB, TCP metrics
    for (let r = 0; r < ROUNDS; r++) {
      for (const name of r % 2 === 0 ? (["weft", "flannel"] as const) : (["flannel", "weft"] as const)) gbits[name].push(iperf(pairs[name], SECONDS));
    }

    const [w, f] = results as [SideResult, SideResult];
    const p50 = (xs: number[]) => percentile(xs, 50);
    const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : "-");
    process.stdout.write(`\nbench/flannel — weft against flannel ${(version.stdout || version.stderr).trim() || FLANNEL_VERSION} (--kube-subnet-mgr), one API server, vxlan, masquerading on both\n`);
    process.stdout.write(`convergence: a new node's podCIDR routed on every other node, ${REPS} new nodes per size; times observed outside the agents\n`);
    const rows: string[][] = [["nodes", "measure", "weft p50 (max)", "flannel p50 (max)", "weft/flannel p50"]];
    for (let i = 0; i < SIZES.length; i++) {
      const a = w.bySize[i]!.cycles;
      const b = f.bySize[i]!.cycles;
      const measures: [string, (x: Cycle) => number][] = [
        ["agent start → route on every other node", (x) => x.converge],
        ["agent start → route on the first other node", (x) => x.first],
        ["kubectl delete node → route gone everywhere", (x) => x.remove],
      ];
      for (const [label, fn] of measures) {
        const [wa, fb] = [a.map(fn), b.map(fn)];
        rows.push([String(SIZES[i]), label, `${ms(p50(wa))} (${ms(Math.max(...wa))})`, `${ms(p50(fb))} (${ms(Math.max(...fb))})`, ratio(p50(wa), p50(fb))]);
      }
    }
    for (let i = 0; i < SIZES.length; i++) {
      const [wa, fb] = [w.bySize[i]!.cycles.map((x) => x.cpu), f.bySize[i]!.cycles.map((x) => x.cpu)];
      rows.push([String(SIZES[i]), "CPU of the other agents (+ children), whole cycle", `${p50(wa).toFixed(2)} s (${Math.max(...wa).toFixed(2)} s)`, `${p50(fb).toFixed(2)} s (${Math.max(...fb).toFixed(2)} s)`, ratio(p50(wa), p50(fb))]);
    }
    printTable(rows);
    process.stdout.write(`\nagent RSS: every agent of the ${w.rssSize}-node cluster, ${w.rssSize - 1} peers programmed each, ${SETTLE_S} s after meshing (VmRSS)\n`);
    const mb = (x: number) => `${x.toFixed(1)} MB`;
    printTable([
      ["agent", "p50", "min", "max", "weft/flannel p50"],
      ["weft agent (build/weft-agent.mjs, --store kubernetes)", mb(p50(w.rss)), mb(Math.min(...w.rss)), mb(Math.max(...w.rss)), ratio(p50(w.rss), p50(f.rss))],
      [`flanneld ${FLANNEL_VERSION}`, mb(p50(f.rss)), mb(Math.min(...f.rss)), mb(Math.max(...f.rss)), ""],
    ]);
    process.stdout.write(`CPU of all ${w.rssSize} agents (+ their children) while idle (same ${SETTLE_S} s): weft ${w.idleCpu.toFixed(1)}%, flannel ${f.idleCpu.toFixed(1)}% of one core (weft/flannel ${ratio(w.idleCpu, f.idleCpu)}); this machine has ${availableParallelism()} cores, shared\n`);
    process.stdout.write(`\nthroughput: iperf3 TCP pod → pod across two nodes, ${ROUNDS} rounds × ${SECONDS} s alternating; Gbit/s median (each run)\n`);
    const paired = p50(gbits.weft.map((g, i) => g / gbits.flannel[i]!));
    printTable([
      ["data plane", "Gbit/s median (each run)", "weft/flannel paired (medians)"],
      ["weft (vxlan, weft CNI plugin)", `${p50(gbits.weft).toFixed(2)} (${gbits.weft.map((g) => g.toFixed(1)).join(", ")})`, `${paired.toFixed(2)} (${ratio(p50(gbits.weft), p50(gbits.flannel))})`],
      ["flannel (vxlan, bridge + host-local)", `${p50(gbits.flannel).toFixed(2)} (${gbits.flannel.map((g) => g.toFixed(1)).join(", ")})`, ""],
    ]);
  } finally {
    scratch.dispose();
  }
}

if (import.meta.main) await benchFlannel();
