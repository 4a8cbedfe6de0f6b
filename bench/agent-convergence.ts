/**
 * bench/agent-convergence: how long a new node's subnet takes to reach
 * every other node — from the moment its lease record appears in the store
 * to the moment the route to its subnet is on weft.1 of every other node —
 * at 10, 25 and 50 nodes, on the embedded store and on etcd.
 *
 * Per store: a cluster of real agents (agent-cluster.ts) grows to N−1 nodes
 * and settles (every node routes to every other); then, REPS times, a new
 * node's agent starts, and its lease and every node's route are timed from
 * outside the agents (agent-events.ts: inotify or `etcdctl watch` on the
 * store, `ip -ts monitor route` on each node). The new node then goes (its
 * agent killed, its lease released as `weft agent --cleanup` would), which
 * times the way back: lease gone → route gone everywhere.
 *
 * A new agent's first lease record already carries its VTEP MAC (the
 * backend announces it before the device exists), so peers can route to
 * it from that first write; the table also shows when the first and the
 * last node had the route.
 * Targets at 50 nodes: at most 1 s on embedded, 2 s on etcd.
 *
 * BENCH_SIZES (default 10,25,50), BENCH_STORES (default embedded,etcd) and
 * BENCH_REPS (new nodes per size, default 4) choose a shorter or longer run.
 */
import { AgentCluster, subnetOf, type StoreName } from "./agent-cluster.ts";
import { LeaseLog, RouteMonitor, wallNow } from "./agent-events.ts";
import { Scratch } from "./agent-scratch.ts";
import { ms, percentile, printTable } from "./stats.ts";

const SIZES = (process.env.BENCH_SIZES ?? "10,25,50").split(",").map(Number);
/** The stores this bench runs on (bench/flannel times the kubernetes store). */
type Store = Exclude<StoreName, "kubernetes">;
const STORES = (process.env.BENCH_STORES ?? "embedded,etcd").split(",") as Store[];
const REPS = Number(process.env.BENCH_REPS ?? 4);
const TARGET_MS: Record<Store, number> = { embedded: 1000, etcd: 2000 };
/** New nodes are numbered from here (underlay 192.168.125.(100+K) must stay below .255). */
const FIRST_NEW = 101;

/** One add-and-remove of a new node. */
interface Cycle {
  /** Lease appeared → route on every other node. */
  converge: number;
  /** Lease appeared → route on the first and on the last node. */
  first: number;
  last: number;
  /** Lease gone → route gone on every node. */
  remove: number;
}

/** One row of results. */
interface Result {
  store: Store;
  size: number;
  cycles: Cycle[];
}

/** Adds node `k` to a settled cluster of `base`, times it, and takes it away again. */
async function cycle(c: AgentCluster, leases: LeaseLog, routes: RouteMonitor, base: readonly number[], k: number): Promise<Cycle> {
  const subnet = subnetOf(k);
  c.addNodes([k]);
  const since = wallNow();
  c.startAgent(k);
  const created = await leases.waitFor(subnet, ["lease", "lease+vtep"], since);
  const added = await routes.waitAll(base, subnet, false, since);
  await c.stopAgent(k);
  const goneSince = wallNow();
  await c.deleteLease(subnet, `node${k}`);
  const gone = await leases.waitFor(subnet, ["gone"], goneSince);
  const deleted = await routes.waitAll(base, subnet, true, goneSince);
  c.removeNode(k);
  return {
    converge: Math.max(...added) - created,
    first: Math.min(...added) - created,
    last: Math.max(...added) - created,
    remove: Math.max(...deleted) - gone,
  };
}

/** Every size on one store: grows one cluster, measuring at each size. */
async function runStore(scratch: Scratch, store: Store, say: (line: string) => void): Promise<Result[]> {
  const c = new AgentCluster(scratch, store, store === "embedded" ? "e" : "x");
  const results: Result[] = [];
  let leases: LeaseLog | undefined;
  try {
    if (store === "etcd") await c.startEtcd();
    leases = new LeaseLog(scratch, c);
    const routes = new RouteMonitor(scratch);
    const base: number[] = [];
    let next = FIRST_NEW;
    for (const size of SIZES) {
      const more = Array.from({ length: size - 1 - base.length }, (_, i) => base.length + i + 1);
      c.addNodes(more);
      for (const k of more) routes.watch(k, c.ns(k));
      const t0 = performance.now();
      for (const k of more) c.startAgent(k);
      await Promise.all(more.map((k) => c.waitReady(k)));
      base.push(...more);
      await c.waitMeshed(base);
      say(`${store}: ${base.length} agents up and meshed (+${more.length} in ${((performance.now() - t0) / 1000).toFixed(1)} s); adding node ${base.length + 1} ${REPS} times`);
      const cycles: Cycle[] = [];
      for (let r = 0; r < REPS; r++) cycles.push(await cycle(c, leases, routes, base, next++));
      results.push({ store, size, cycles });
    }
  } finally {
    leases?.close();
    await c.close();
  }
  return results;
}

/** Runs the benchmark and prints its table. */
export async function benchAgentConvergence(): Promise<void> {
  const scratch = new Scratch("wbc");
  const say = (line: string) => process.stderr.write(`agent-convergence: ${line}\n`);
  try {
    const results: Result[] = [];
    for (const store of STORES) results.push(...(await runStore(scratch, store, say)));
    const p50 = (r: Result, f: (c: Cycle) => number) => percentile(r.cycles.map(f), 50);
    const max = (r: Result, f: (c: Cycle) => number) => Math.max(...r.cycles.map(f));
    process.stdout.write(`\nbench/agent-convergence — lease in the store → route on every other node (vxlan), ${REPS} new nodes per size; times observed outside the agents\n`);
    printTable([
      ["store", "nodes", "converge p50", "converge max", "p50/target", "max/target", "lease → first route p50", "lease → last route p50", "removal p50"],
      ...results.map((r) => [
        r.store, String(r.size), ms(p50(r, (c) => c.converge)), ms(max(r, (c) => c.converge)),
        (p50(r, (c) => c.converge) / TARGET_MS[r.store]).toFixed(2), (max(r, (c) => c.converge) / TARGET_MS[r.store]).toFixed(2),
        ms(p50(r, (c) => c.first)), ms(p50(r, (c) => c.last)), ms(p50(r, (c) => c.remove)),
      ]),
    ]);
    for (const r of results.filter((r) => r.size === 50)) {
      const target = TARGET_MS[r.store];
      const verdict = (x: number) => `${ms(x)} ${x <= target ? "met" : "NOT met"}`;
      process.stdout.write(`target: ${r.store} at 50 nodes <= ${target} ms: p50 ${verdict(p50(r, (c) => c.converge))}, max ${verdict(max(r, (c) => c.converge))}\n`);
    }
  } finally {
    scratch.dispose();
  }
}

if (import.meta.main) await benchAgentConvergence();
