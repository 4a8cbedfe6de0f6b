/**
 * Timestamped events for bench/agent-convergence, observed from outside the
 * agents so the agents' own code does not time itself:
 *
 *   LeaseLog      lease records appearing, gaining the VTEP MAC, going away:
 *                 embedded — inotify (fs.watch) on the store directory, timed
 *                 by the record file's mtime; etcd — `etcdctl watch` (its own
 *                 gRPC stream), timed on arrival
 *   RouteMonitor  routes appearing and disappearing on each node:
 *                 `ip -n NS -ts monitor route`, timed by ip's own timestamp
 *
 * All times are wall-clock ms (CLOCK_REALTIME, what ip -ts and mtime use).
 */
import { readFileSync, statSync, watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { decodeLease, subnetFromKey } from "../src/store/types.ts";
import { DEFAULT_ETCD_PREFIX } from "../src/store/etcd/store.ts";
import { ETCD_URL, type AgentCluster } from "./agent-cluster.ts";
import { until } from "../test/support/until.ts";
import type { Scratch } from "./agent-scratch.ts";

/** Wall-clock now in ms, with sub-ms precision. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** What a lease record says: held without the VTEP MAC yet, held with it, or gone. */
export type LeaseKind = "lease" | "lease+vtep" | "gone";

/** One change of one subnet's lease. */
interface LeaseChange {
  /** When it happened (for embedded the file's mtime, which the kernel's coarse clock puts up to one tick early). */
  at: number;
  /** When the bench heard of it. */
  arrived: number;
  subnet: string;
  kind: LeaseKind;
}

function kindOf(record: string | undefined, subnet: string): LeaseKind {
  const lease = record === undefined ? undefined : decodeLease(record, subnet);
  if (!lease) return "gone";
  return lease.attrs.backendData["vtepMac"] ? "lease+vtep" : "lease";
}

/** The store's lease changes, as they happen. */
export class LeaseLog {
  readonly #changes: LeaseChange[] = [];
  #stop: () => void = () => {};

  /** Starts following the cluster's store. */
  constructor(scratch: Scratch, cluster: AgentCluster) {
    if (cluster.store === "embedded") this.#watchDir(cluster.storeDir);
    else this.#watchEtcd(scratch, cluster);
  }

  #watchDir(dir: string): void {
    const record = /^(.+)\.v\d+\.json$/;
    const w: FSWatcher = watch(dir, (_event, name) => {
      const arrived = wallNow();
      const m = name === null ? null : record.exec(name);
      const subnet = m ? subnetFromKey(m[1]!) : undefined;
      if (subnet === undefined) return;
      try {
        const file = join(dir, name!);
        const at = Math.min(arrived, statSync(file).mtimeMs);
        this.#changes.push({ at, arrived, subnet, kind: kindOf(readFileSync(file, "utf8"), subnet) });
      } catch {
        // Removed already: an older version the writer swept, seen before.
      }
    });
    this.#stop = () => w.close();
  }

  #watchEtcd(scratch: Scratch, cluster: AgentCluster): void {
    const child = scratch.spawn(["ip", "netns", "exec", cluster.outsideNs, "etcdctl", "--endpoints", ETCD_URL, "watch", "--prefix", DEFAULT_ETCD_PREFIX, "-w", "json"], { stdio: ["ignore", "pipe", "ignore"] });
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const arrived = wallNow();
      let answer: { Events?: { type?: number; kv: { key: string; value?: string } }[] };
      try {
        answer = JSON.parse(line) as typeof answer;
      } catch {
        return;
      }
      for (const e of answer.Events ?? []) {
        const key = Buffer.from(e.kv.key, "base64").toString();
        const subnet = subnetFromKey(key.slice(DEFAULT_ETCD_PREFIX.length));
        if (subnet === undefined) continue;
        const value = e.type === 1 || e.kv.value === undefined ? undefined : Buffer.from(e.kv.value, "base64").toString();
        this.#changes.push({ at: arrived, arrived, subnet, kind: kindOf(value, subnet) });
      }
    });
    this.#stop = () => child.kill();
  }

  /** Waits (up to 30 s) for the first change of `subnet` to one of `kinds` heard at or after `since`; resolves with its time. */
  async waitFor(subnet: string, kinds: readonly LeaseKind[], since: number): Promise<number> {
    let at: number | undefined;
    await until(`${subnet} to become ${kinds.join(" or ")} in the store`, () => {
      at = this.#changes.find((c) => c.subnet === subnet && kinds.includes(c.kind) && c.arrived >= since)?.at;
      return at !== undefined;
    }, 30_000, 10);
    return at!;
  }

  /** Stops following the store. */
  close(): void {
    this.#stop();
  }
}

/** A route change seen on one node. */
interface RouteChange {
  at: number;
  deleted: boolean;
  dst: string;
}

/** Parses ip's `-ts` prefix, `[2026-11-21T08:09:48.696511]`, local time, into wall-clock ms. */
function parseIpTime(ts: string): number {
  return Date.parse(ts.slice(0, 23)) + Number(ts.slice(23, 26).padEnd(3, "0")) / 1000;
}

/** `ip -ts monitor route` in each node, from before the measurement on. */
export class RouteMonitor {
  readonly #scratch: Scratch;
  readonly #seen = new Map<number, RouteChange[]>();

  constructor(scratch: Scratch) {
    this.#scratch = scratch;
  }

  /** Starts monitoring node `k` in namespace `ns`. */
  watch(k: number, ns: string): void {
    const changes: RouteChange[] = [];
    this.#seen.set(k, changes);
    const child = this.#scratch.spawn(["ip", "-n", ns, "-ts", "monitor", "route"], { stdio: ["ignore", "pipe", "ignore"] });
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const m = /^\[([^\]]+)\] (Deleted )?(\S+)/.exec(line);
      if (m) changes.push({ at: parseIpTime(m[1]!), deleted: m[2] !== undefined, dst: m[3]! });
    });
  }

  /**
   * Waits (up to 30 s) until every node in `ks` saw `subnet`'s route added
   * (or deleted) at or after `since`; resolves with each node's first such time.
   */
  async waitAll(ks: readonly number[], subnet: string, deleted: boolean, since: number): Promise<number[]> {
    const first = (k: number) => this.#seen.get(k)?.find((c) => c.dst === subnet && c.deleted === deleted && c.at >= since)?.at;
    await until(`the route to ${subnet} to be ${deleted ? "deleted" : "added"} on ${ks.length} nodes`, () => ks.every((k) => first(k) !== undefined), 30_000, 10);
    return ks.map((k) => first(k)!);
  }
}
