/**
 * bench/lab-speed: the lab's verbs timed as a user runs them — `bin/weft`
 * spawned from here, wall time until it exits:
 *
 *   lab up --nodes 3   until every agent is ready        target ≤ 5 s
 *   lab up --nodes 10                                    target ≤ 15 s
 *   lab run            20 pods (2 per node) on the 10-node lab, p50   ≤ 250 ms
 *   lab down           of the 3-node lab, and of the 10-node lab with its
 *                      20 pods                           target ≤ 3 s
 *
 * and a lab with its Kubernetes control plane and the weft add-on (the
 * default `lab up`), 3 and 10 nodes: when every Node was Ready (as `up`
 * reports it: the time after `up` began at which `kubectl get nodes` first
 * showed them all Ready), and when `up` exited (every agent holds its
 * podCIDR, cluster DNS applied); target for 3 nodes ≤ 10 s.
 *
 * The reference row is `bin/weft help`: the CLI's own start-up, which every
 * verb pays. The lab is named wbl-<pid>; `lab down` runs at the end and on
 * interrupt, also after a failure.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { Scratch } from "./agent-scratch.ts";
import { ms, percentile, printTable } from "./stats.ts";

const WEFT = resolve(import.meta.dirname, "../bin/weft");
const SMALL_REPS = 3;
const BIG_REPS = 2;
const PODS = 20;
const TARGETS_MS = { up3: 5000, up10: 15000, run: 250, down: 3000, kubeUp3: 10_000 };
/** Runs of each Kubernetes lab size (BENCH_KUBE_REPS, default 1: each takes tens of seconds on the dev machine). */
const KUBE_REPS = Number(process.env.BENCH_KUBE_REPS ?? 1);

/** Runs `bin/weft args…`; returns its wall time in ms, throwing with its stderr when it fails. */
function weft(args: readonly string[]): number {
  return weftOut(args).ms;
}

/** Runs `bin/weft args…`; returns its wall time in ms and its output. */
function weftOut(args: readonly string[]): { ms: number; out: string } {
  const t0 = performance.now();
  const r = spawnSync(WEFT, args, { encoding: "utf8" });
  const took = performance.now() - t0;
  if (r.status !== 0) throw new Error(`weft ${args.join(" ")} exited ${r.status}: ${r.stderr.trim()}`);
  return { ms: took, out: `${r.stdout}${r.stderr}` };
}

/** The "N nodes Ready X s after up began" of `up`'s output, in ms. */
function nodesReadyMs(out: string): number {
  const m = /nodes? Ready (\d+(?:\.\d+)?) s after up began/.exec(out);
  if (!m) throw new Error(`lab up did not report its nodes Ready:\n${out}`);
  return Number(m[1]) * 1000;
}

/** Runs the benchmark and prints its table. */
export async function benchLabSpeed(): Promise<void> {
  const scratch = new Scratch("wbl");
  const name = `wbl-${process.pid}`;
  const lab = (verb: string, ...rest: string[]) => weft(["lab", verb, "--name", name, ...rest]);
  let up = false;
  scratch.atExit(() => {
    if (up) spawnSync(WEFT, ["lab", "down", "--name", name], { stdio: "ignore" });
  });
  try {
    const help = Array.from({ length: 5 }, () => weft(["help"]));
    const up3: number[] = [];
    const down3: number[] = [];
    for (let i = 0; i < SMALL_REPS; i++) {
      up = true;
      up3.push(lab("up", "--no-kubernetes", "--nodes", "3"));
      down3.push(lab("down"));
      up = false;
    }
    const up10: number[] = [];
    const runs: number[] = [];
    const down10: number[] = [];
    for (let i = 0; i < BIG_REPS; i++) {
      up = true;
      up10.push(lab("up", "--no-kubernetes", "--nodes", "10"));
      for (let p = 0; p < PODS; p++) runs.push(lab("run", `p${p}`, "--node", `node${(p % 10) + 1}`, "--", "sleep", "3600"));
      down10.push(lab("down"));
      up = false;
    }
    const kube: Record<3 | 10, { ready: number[]; exit: number[] }> = { 3: { ready: [], exit: [] }, 10: { ready: [], exit: [] } };
    for (const n of [3, 10] as const) {
      for (let i = 0; i < KUBE_REPS; i++) {
        up = true;
        const r = weftOut(["lab", "up", "--name", name, "--nodes", String(n)]);
        kube[n].ready.push(nodesReadyMs(r.out));
        kube[n].exit.push(r.ms);
        lab("down");
        up = false;
      }
    }
    const p50 = (xs: number[]) => percentile(xs, 50);
    const row = (what: string, xs: number[], target?: number) => [
      what, String(xs.length), ms(p50(xs)), ms(Math.max(...xs)), target === undefined ? "-" : `${(target / 1000).toFixed(target < 1000 ? 2 : 0)} s`,
      target === undefined ? "-" : (p50(xs) / target).toFixed(2), target === undefined ? "-" : (Math.max(...xs) / target).toFixed(2),
    ];
    process.stdout.write(`\nbench/lab-speed — bin/weft as a user runs it, wall time to exit\n`);
    printTable([
      ["command", "runs", "p50", "max", "target", "p50/target", "max/target"],
      row("lab up --nodes 3", up3, TARGETS_MS.up3),
      row("lab down (3 nodes)", down3, TARGETS_MS.down),
      row("lab up --nodes 10", up10, TARGETS_MS.up10),
      row(`lab run (10 nodes, ${PODS} pods per lab)`, runs, TARGETS_MS.run),
      row(`lab down (10 nodes, ${PODS} pods)`, down10, TARGETS_MS.down),
      row("reference: weft help (CLI start-up)", help),
      row("lab up --nodes 3 with Kubernetes + add-on: every Node Ready", kube[3].ready, TARGETS_MS.kubeUp3),
      row("  lab up --nodes 3 with Kubernetes + add-on: up exits", kube[3].exit),
      row("lab up --nodes 10 with Kubernetes + add-on: every Node Ready", kube[10].ready),
      row("  lab up --nodes 10 with Kubernetes + add-on: up exits", kube[10].exit),
    ]);
    const checks: [string, number, number][] = [
      ["lab up --nodes 3, max", Math.max(...up3), TARGETS_MS.up3],
      ["lab up --nodes 10, max", Math.max(...up10), TARGETS_MS.up10],
      ["lab run, p50", p50(runs), TARGETS_MS.run],
      ["lab down, max", Math.max(...down3, ...down10), TARGETS_MS.down],
      ["lab up --nodes 3 with Kubernetes, every Node Ready, max", Math.max(...kube[3].ready), TARGETS_MS.kubeUp3],
    ];
    for (const [what, got, target] of checks) process.stdout.write(`target: ${what} <= ${ms(target)}: ${got <= target ? "met" : "NOT met"}\n`);
  } finally {
    scratch.dispose();
  }
}

if (import.meta.main) await benchLabSpeed();
