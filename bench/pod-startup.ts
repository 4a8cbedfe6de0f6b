/**
 * bench/pod-startup: how fast lab kubelets run a Deployment's pods, and
 * what a lab kubelet costs in memory, on a 3-node lab with its control
 * plane:
 *
 *   per pod, from `kubectl create deployment --replicas 30` until the pod is
 *   seen Running with its IP (a watch started before the create): p50, p99
 *   (timed from kubectl's own start, the argv `weft lab kubectl` runs,
 *   without that Node.js wrapper's ~0.15 s start, as a kind user's kubectl)
 *   and the last; the Kubernetes SLO is p99 ≤ 5 s without image pulls, the
 *   target here p99 ≤ 1 s; split at the moment the watch sees the pod bound
 *   to a node (the control plane's share, then the kubelet's)
 *   per pod, from when the watch first sees it (its creation) until it is
 *   seen Running with its IP: the SLO's own measure, which starts at each
 *   pod's creation, so it leaves out `kubectl` and the ReplicaSet
 *   controller's slow start (it creates pods in batches of 1, 2, 4, 8, 16,
 *   each after the one before has been created)
 *   within the kubelet's share, from the kubelets' logs: when it first saw
 *   the pod until its Running status was sent, and of that the sandbox
 *   (netns and CNI ADD) and the volumes (a TokenRequest, ConfigMap reads),
 *   which run side by side
 *   RSS of each node's lab kubelet (VmRSS) with its 10 pods running, and
 *   of the pods' built-in port servers (one a pod)
 *   the API server's own time for each request a pod's start-up waits on
 *   (the pod's create, its binding, the kubelet's TokenRequest and status
 *   patch) and for the events beside them, over the burst: count, mean and
 *   the histogram bound under which 90% fall (apiserver-latency.ts)
 *   CPU time during the burst (from the create until the last pod Running)
 *   by process family (proc-cpu.ts): each control-plane component, the lab
 *   kubelets themselves, what they ran for the sandboxes (their shell
 *   hosts: `ip`, the CNI plugins), the new containers' launch shells (busybox's
 *   nsenter, unshare, sh and mounts) and their processes (the port server), per pod and in all;
 *   /proc counts each process's CPU in whole 10 ms ticks, so a family of
 *   many short processes (a launch shell's ~11 ms) reads low; the whole
 *   machine's busy time from /proc/stat, printed below them, has no such
 *   loss and includes the kernel's threads and the bench itself
 *   and the floor it sets: the upstream control plane's CPU-seconds divided
 *   by the machine's cores is the least wall time in which any kubelet
 *   could have the burst's pods Running, printed beside p99
 *
 * BENCH_BURSTS=N runs N such bursts one after the other on the same lab
 * (Deployments bench-1 … bench-N, each deleted before the next is made),
 * prints each one's tables and then every burst's p99 and their median:
 * one burst's p99 can differ from the next by a quarter on this kind of
 * machine, more than most changes to the code move it.
 *
 * The image (nginx) is not in the lab's catalog, so each pod runs the
 * built-in port server. The pods are BestEffort, so their containers run at
 * the least CPU weight (src/lab/kubelet/autogroup.ts): part of their CPU
 * falls after the last pod is Running, outside the rows below. A 3-replica
 * Deployment is run to completion first, so the figures are pod start-up,
 * not the controllers' own start after `up`. The lab is named wps-<pid>; `lab down` runs at the
 * end and on interrupt, also after a failure.
 */
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { Scratch } from "./agent-scratch.ts";
import { latencyBetween, parseRequestDurations, type RequestHistogram, type RequestKind } from "./apiserver-latency.ts";
import { diff, family, machineBusyMs, snapshot, type ProcCpu, type Share } from "./proc-cpu.ts";
import { percentile, printTable } from "./stats.ts";
import { kubectlArgv } from "../src/lab/control/kubectl.ts";
import { PORT_SERVER_IN_CONTAINER } from "../src/lab/kubelet/images.ts";
import { labLayout, type LabLayout } from "../src/lab/layout.ts";
import { readLabState, type LabState } from "../src/lab/state.ts";

const WEFT = resolve(import.meta.dirname, "../bin/weft");

/** A process's VmRSS in KiB, or null when it is gone. */
function vmRssKib(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** VmRSS (KiB) of each built-in port server (port-server.ts) a pod of `deployment` runs. */
function portServersRss(deployment: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0");
    } catch {
      continue; // gone meanwhile
    }
    if (argv[0] !== PORT_SERVER_IN_CONTAINER || argv[1] !== "--pod" || !argv[2]?.startsWith(`${deployment}-`)) continue;
    const rss = vmRssKib(Number(pid));
    if (rss !== null) out.push(rss);
  }
  return out;
}

/** portServersRss once all REPLICAS servers are up, or what is up after `waitMs`: BestEffort containers start at the least CPU weight, some after the last pod is Running. */
async function allPortServersRss(deployment: string, waitMs = 10_000): Promise<number[]> {
  const until = performance.now() + waitMs;
  let servers = portServersRss(deployment);
  while (servers.length < REPLICAS && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    servers = portServersRss(deployment);
  }
  return servers;
}

const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 30);
/** Bursts run one after the other on one lab (BENCH_BURSTS, default 1): one burst's p99 can differ from the next by a quarter. */
const BURSTS = Number(process.env.BENCH_BURSTS ?? 1);
const TARGET_P99_MS = 1000;
/** The upstream control plane's processes, by their supervisor names. */
const CONTROL_PLANE = ["control-etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"];

/**
 * The requests each pod's start-up waits on, one after the other, and the
 * events beside them: their time in the API server under the burst
 * (apiserver-latency.ts).
 */
const REQUESTS: Record<RequestKind, string> = {
  "POST pods": "ReplicaSet controller: the pod",
  "POST pods/binding": "scheduler: the binding",
  "POST serviceaccounts/token": "kubelet: TokenRequest",
  "PATCH pods/status": "kubelet: status",
  // core/v1 (the controller manager's, the kubelets') and events.k8s.io/v1 (the scheduler's) alike.
  "POST events": "events created, beside",
  "PATCH events": "events repeated, beside",
};

/** The API server's request durations, scraped from its /metrics with the lab's kubectl. */
function scrapeRequestDurations(argv: (args: string[]) => string[]): Map<RequestKind, RequestHistogram> {
  const [cmd, ...args] = argv(["get", "--raw", "/metrics"]);
  const r = spawnSync(cmd!, args, { encoding: "utf8", maxBuffer: 64 << 20, timeout: 30_000 });
  if (r.status !== 0) {
    const why = r.error?.message ?? (r.signal ? `was killed by ${r.signal}` : `exited ${r.status}`);
    throw new Error(`kubectl get --raw /metrics ${why}: ${r.stderr?.trim() ?? ""}`);
  }
  return parseRequestDurations(r.stdout);
}

/** The lab's supervised processes by name (supervisor.json). */
function supervised(name: string): { name: string; pid: number }[] {
  const s = JSON.parse(readFileSync(`/run/weft/lab/${name}/supervisor.json`, "utf8")) as { processes: { name: string; pid: number | null }[] };
  return s.processes.filter((p): p is { name: string; pid: number } => p.pid !== null);
}

/**
 * Labels the processes of the lab's families for proc-cpu's diff: a
 * supervised process by its name. A kubelet's own CPU is one row. Under it,
 * a container's launch shell (busybox's nsenter and unshare exec it; its argv names
 * "weft-container") and what runs under it (the container's processes, the
 * port server): new ones, started during the burst, are two rows; older
 * ones (add-on, DNS) are the pods started before. Everything else under a
 * kubelet is its sandbox work: its shell hosts (shell-host.ts) and what
 * they ran for the pods (`ip`, the CNI plugins).
 */
function classifier(procs: ReadonlyMap<number, ProcCpu>, roots: readonly { name: string; pid: number }[], before: ReadonlyMap<number, ProcCpu>): (p: ProcCpu) => Share | null {
  const labels = new Map<number, Share>();
  const sandbox = "  sandboxes: ip, CNI plugins (the kubelets' shell hosts)";
  for (const root of roots) {
    const kubelet = root.name.endsWith("-kubelet");
    if (!kubelet) {
      const plain = { label: CONTROL_PLANE.includes(root.name) ? root.name : root.name.replace(/^node\d+-/, "") };
      for (const pid of family(procs, root.pid)) labels.set(pid, plain);
      continue;
    }
    labels.set(root.pid, { label: "lab kubelets (Node.js)", childrenLabel: sandbox });
    for (const pid of family(procs, root.pid)) {
      if (pid === root.pid) continue;
      // The nearest launch shell at or above this process, below the kubelet.
      let launch: ProcCpu | undefined;
      for (let p = procs.get(pid); p && p.pid !== root.pid; p = procs.get(p.ppid)) {
        if (p.argv.includes("weft-container")) {
          launch = p;
          break;
        }
      }
      let label = sandbox;
      if (launch && before.get(launch.pid)?.start === launch.start) label = "pods started before (add-on, DNS)";
      else if (launch) label = pid === launch.pid ? "new containers' launch: busybox nsenter, unshare, sh, mounts" : "new containers' processes (port server)";
      labels.set(pid, { label });
    }
  }
  return (p) => labels.get(p.pid) ?? null;
}

/** What a burst needs of the lab the bench made. */
interface BurstLab {
  scratch: Scratch;
  /** The lab's name. */
  name: string;
  lab: LabLayout;
  state: LabState;
  /** The pinned kubectl as a user runs it, resolved when it exits 0. */
  kubectl: (...args: string[]) => Promise<void>;
}

/** Runs one burst (Deployment `deployment` of REPLICAS pods), prints its tables, and returns its p99s. */
async function runBurst({ scratch, name, lab, state, kubectl }: BurstLab, deployment: string): Promise<{ create: number; slo: number }> {
  const seen = new Map<string, number>();
  const bound = new Map<string, number>();
  const created = new Map<string, number>();
  let t0 = 0;
  // The watch prints each change of the Deployment's pods as one line. A kubectl watch that ends
  // early (it did once in ~20 runs, with status 0) is started again: its first lines list the pods
  // as they are then, so a pod that became Running meanwhile counts from the restart (later, never
  // earlier); a pod it first sees then has no creation time of its own, so it is left out of the
  // "from its creation" row (`late`).
  const late = new Set<string>();
  let restarts = 0;
  let stopped = false;
  let onLine: (line: string) => void = () => {};
  let watchFailed: (err: Error) => void = () => {};
  const startWatch = () => {
    const [cmd, ...args] = kubectlArgv(lab, state, ["get", "pods", "-l", `app=${deployment}`, "--watch", "-o", 'jsonpath={.metadata.name} {.status.phase} {.status.podIP} {.spec.nodeName}{"\\n"}']);
    const w = scratch.spawn([cmd!, ...args], { stdio: ["ignore", "pipe", "ignore"] });
    let buf = "";
    w.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    w.once("exit", (code, sig) => {
      if (seen.size >= REPLICAS || stopped) return;
      if (++restarts <= 3) return void startWatch();
      watchFailed(new Error(`the pod watch (kubectl get --watch) ended with ${sig ?? `status ${code}`} after ${seen.size}/${REPLICAS} pods ran`));
    });
    watch = w;
  };
  let watch: ReturnType<typeof scratch.spawn> | undefined;
  const all = new Promise<void>((done) => {
    onLine = (line) => {
      const [pod, phase, ip, node] = line.trim().split(" ");
      // A pod not yet bound prints an empty IP and node, so the fields shift: look for "node" by name.
      const onNode = [ip, node].find((f) => f?.startsWith("node"));
      if (pod && !created.has(pod)) {
        created.set(pod, performance.now() - t0);
        if (restarts > 0) late.add(pod);
      }
      if (pod && onNode && !bound.has(pod)) bound.set(pod, performance.now() - t0);
      if (pod && phase === "Running" && ip && !ip.startsWith("node") && !seen.has(pod)) seen.set(pod, performance.now() - t0);
      if (seen.size >= REPLICAS) done();
    };
  });
  startWatch();
  // Before the pause: the API server's allocations for a /metrics page are collected by then.
  const requestsBefore = scrapeRequestDurations((args) => kubectlArgv(lab, state, args));
  await new Promise((r) => setTimeout(r, 1000));
  const roots = supervised(name);
  const cpuBefore = snapshot();
  const busyBefore = machineBusyMs();
  t0 = performance.now();
  await kubectl("create", "deployment", deployment, "--image=nginx", `--replicas=${REPLICAS}`, "--port=80");
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not every pod ran within 120 s (${seen.size}/${REPLICAS})`)), 120_000);
    watchFailed = reject;
  });
  await Promise.race([all, timeout]).finally(() => {
    clearTimeout(timer);
    stopped = true;
  });
  const cpuAfter = snapshot();
  const busyMs = machineBusyMs() - busyBefore;
  const wallMs = performance.now() - t0;
  watch?.kill();
  const requests = latencyBetween(requestsBefore, scrapeRequestDurations((args) => kubectlArgv(lab, state, args)), Object.keys(REQUESTS));
  const times = [...seen.values()];
  const toBound = [...bound.values()];
  const kubeletPart = [...seen].map(([pod, t]) => t - (bound.get(pod) ?? 0));
  const ownLife = [...seen].filter(([pod]) => !late.has(pod)).map(([pod, t]) => t - (created.get(pod) ?? 0));
  const rss = roots
    .filter((p) => p.name.endsWith("-kubelet"))
    .map((p) => `${p.name} ${((vmRssKib(p.pid) ?? 0) / 1024).toFixed(0)} MiB`);
  // The kubelets' own account of each bench pod (pod-worker.ts logs these lines).
  const phases = { seen: [] as number[], sandbox: [] as number[], volumes: [] as number[] };
  for (const n of [1, 2, 3]) {
    const text = readFileSync(`/run/weft/lab/${name}/logs/node${n}-kubelet.log`, "utf8");
    for (const m of text.matchAll(new RegExp(String.raw`pod default/${deployment}-\S+: (?:sandbox \S+ with IP \S+ in (\d+) ms|\d+ volumes ready in (\d+) ms|Running with IP \S+, status sent (\d+) ms after)`, "g"))) {
      if (m[1]) phases.sandbox.push(Number(m[1]));
      if (m[2]) phases.volumes.push(Number(m[2]));
      if (m[3]) phases.seen.push(Number(m[3]));
    }
  }
  const p99 = percentile(times, 99);
  printTable([
    ["pod start-up (3 nodes)", "p50", "p99", "last", "target p99", "ratio"],
    [`Deployment of ${REPLICAS}: create → Running with IP`, `${percentile(times, 50).toFixed(0)} ms`, `${p99.toFixed(0)} ms`, `${Math.max(...times).toFixed(0)} ms`, `${TARGET_P99_MS} ms`, (p99 / TARGET_P99_MS).toFixed(2)],
    ["  of which create → bound to a node (controllers, scheduler)", `${percentile(toBound, 50).toFixed(0)} ms`, `${percentile(toBound, 99).toFixed(0)} ms`, `${Math.max(...toBound).toFixed(0)} ms`, "", ""],
    ["  of which bound → Running with IP (lab kubelet)", `${percentile(kubeletPart, 50).toFixed(0)} ms`, `${percentile(kubeletPart, 99).toFixed(0)} ms`, `${Math.max(...kubeletPart).toFixed(0)} ms`, "", ""],
    ["each pod from its creation → Running with IP (the SLO's measure)", `${percentile(ownLife, 50).toFixed(0)} ms`, `${percentile(ownLife, 99).toFixed(0)} ms`, `${Math.max(...ownLife).toFixed(0)} ms`, `${TARGET_P99_MS} ms`, (percentile(ownLife, 99) / TARGET_P99_MS).toFixed(2)],
    ...([
      ["    kubelet saw the pod → Running status sent", phases.seen],
      ["      sandbox: netns, CNI ADD (beside the volumes)", phases.sandbox],
      ["      volumes: TokenRequest, ConfigMap", phases.volumes],
    ] as const).map(([what, xs]) => [what, ...(xs.length ? [`${percentile(xs, 50).toFixed(0)} ms`, `${percentile(xs, 99).toFixed(0)} ms`, `${Math.max(...xs).toFixed(0)} ms`] : ["-", "-", "-"]), "", ""]),
  ]);
  process.stdout.write(`lab kubelet RSS with ${REPLICAS / 3} pods each: ${rss.join(", ")}\n`);
  const servers = await allPortServersRss(deployment);
  if (servers.length > 0) process.stdout.write(`the pods' built-in port servers: ${servers.length}, RSS ${(servers.reduce((a, b) => a + b, 0) / 1024).toFixed(1)} MiB in all (p50 ${(percentile(servers, 50) / 1024).toFixed(1)} MiB each)\n`);
  if (restarts > 0) process.stdout.write(`the pod watch ended early and was started again ${restarts} time(s); ${late.size} pods first seen after a restart are left out of "from its creation"\n`);
  process.stdout.write("\n");
  printTable([
    ["API server: its time per request during the burst (from its metrics)", "count", "mean", "p90 at most"],
    ...requests.map((r) => [`${r.kind} (${REQUESTS[r.kind]})`, String(r.count), `${r.meanMs.toFixed(0)} ms`, Number.isFinite(r.p90BoundMs) ? `${r.p90BoundMs.toFixed(0)} ms` : `over ${r.lastBoundMs.toFixed(0)} ms`]),
  ]);
  process.stdout.write("\n");
  const cpu = diff(cpuBefore, cpuAfter, classifier(cpuAfter, roots, cpuBefore));
  const total = [...cpu.values()].reduce((a, b) => a + b, 0);
  const control = CONTROL_PLANE.reduce((a, c) => a + (cpu.get(c) ?? 0), 0);
  const cores = availableParallelism();
  const row = (what: string, msCpu: number) => [what, `${(msCpu / 1000).toFixed(2)} s`, `${(msCpu / REPLICAS).toFixed(1)} ms`];
  printTable([
    [`CPU during the burst (${(wallMs / 1000).toFixed(2)} s wall, ${cores} cores)`, "CPU", "per pod"],
    ...[...cpu].sort((a, b) => b[1] - a[1]).map(([what, msCpu]) => row(what, msCpu)),
    row("all the lab's processes", total),
    row("the whole machine (/proc/stat: kernel threads and the bench too)", busyMs),
  ]);
  process.stdout.write(
    `\nfloor: the upstream control plane (${CONTROL_PLANE.join(", ")}) used ${(control / 1000).toFixed(2)} CPU-s; ` +
      `over ${cores} cores no kubelet could finish in less than ${(control / cores).toFixed(0)} ms (p99 ${p99.toFixed(0)} ms, ${(p99 / (control / cores)).toFixed(2)}× the floor)\n` +
      `the machine was busy ${((100 * busyMs) / (cores * wallMs)).toFixed(0)}% of its ${cores} cores during the burst\n`,
  );
  return { create: p99, slo: percentile(ownLife, 99) };
}

function weft(args: readonly string[]): string {
  const r = spawnSync(WEFT, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`weft ${args.join(" ")} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs the benchmark and prints its table. */
export async function benchPodStartup(): Promise<void> {
  const scratch = new Scratch("wps");
  const name = `wps-${process.pid}`;
  let up = false;
  scratch.atExit(() => {
    if (up) spawnSync(WEFT, ["lab", "down", "--name", name], { stdio: "ignore" });
  });
  try {
    up = true;
    weft(["lab", "up", "--name", name, "--nodes", "3"]);
    const lab = labLayout(name);
    const state = readLabState(lab);
    // The pinned kubectl as `weft lab kubectl` runs it, without that Node.js wrapper's ~0.15 s start:
    // the create below is timed from kubectl's own start, as a kind or kubeadm user's is. Not waited
    // for synchronously: the watch's lines must be timed as they come, also while kubectl runs.
    const kubectl = (...args: string[]) =>
      new Promise<void>((done, fail) => {
        const [cmd, ...rest] = kubectlArgv(lab, state, args);
        const child = spawn(cmd!, rest, { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.once("error", fail);
        child.once("exit", (code) => (code === 0 ? done() : fail(new Error(`kubectl ${args.join(" ")} exited ${code}: ${stderr.trim()}`))));
      });
    // The controller manager starts its controllers a few seconds after it reports healthy; a first
    // Deployment run to completion makes the measured one time pods, not the control plane's start.
    await kubectl("create", "deployment", "warmup", "--image=nginx", "--replicas=3", "--port=80");
    await kubectl("wait", "deployment/warmup", "--for=condition=Available", "--timeout=120s");
    // Foreground: the command returns once its pods are gone too, so their ends fall before the burst.
    await kubectl("delete", "deployment", "warmup", "--cascade=foreground", "--wait=true");
    const summary: { create: number; slo: number }[] = [];
    for (let burst = 1; burst <= BURSTS; burst++) {
      const deployment = BURSTS === 1 ? "bench" : `bench-${burst}`;
      if (burst > 1) {
        // The burst before is gone first (foreground: its pods too), so each burst starts on the same three idle nodes.
        await kubectl("delete", "deployment", `bench-${burst - 1}`, "--wait=true");
        await new Promise((r) => setTimeout(r, 2000));
        process.stdout.write(`\n`);
      }
      if (BURSTS > 1) process.stdout.write(`burst ${burst} of ${BURSTS}\n`);
      summary.push(await runBurst({ scratch, name, lab, state, kubectl }, deployment));
    }
    if (BURSTS > 1) {
      const med = (xs: number[]) => percentile(xs, 50);
      const creates = summary.map((s) => s.create);
      const slos = summary.map((s) => s.slo);
      process.stdout.write("\n");
      printTable([
        [`pod start-up, ${BURSTS} bursts of ${REPLICAS} on one lab`, "each burst's p99", "median", "target p99", "ratio"],
        ["create → Running with IP", creates.map((x) => x.toFixed(0)).join(" "), `${med(creates).toFixed(0)} ms`, `${TARGET_P99_MS} ms`, (med(creates) / TARGET_P99_MS).toFixed(2)],
        ["each pod from its creation (the SLO's measure)", slos.map((x) => x.toFixed(0)).join(" "), `${med(slos).toFixed(0)} ms`, `${TARGET_P99_MS} ms`, (med(slos) / TARGET_P99_MS).toFixed(2)],
      ]);
    }
  } finally {
    scratch.dispose();
  }
}

if (import.meta.main) await benchPodStartup();
