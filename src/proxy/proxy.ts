/**
 * The service proxy: keeps the nftables table `ip weft-proxy` (plan.ts) in
 * step with Services and EndpointSlices. It owns that table alone and writes
 * nowhere else; it also owns the healthCheckNodePort servers and deletes
 * stale UDP conntrack entries of the services it programs.
 *
 * Inputs arrive as informer events (upsert/delete). Nothing is synced
 * until both inputs have reported their initial list (markServicesSynced,
 * markSlicesSynced), so the proxy never programs a half-known world (a
 * Service whose slices are not listed yet would be refused for a moment).
 *
 * Syncs run through a SyncRunner (coalesced, rate-bounded, retried):
 *   - the first one rebuilds the table (delete and define in one
 *     transaction: a restart never leaves stale chains, and connections
 *     keep their conntrack NAT across it);
 *   - a change applies only the difference to the last applied plan;
 *   - a change made to the table by anyone else (seen by `nft monitor`,
 *     kernel/nft/monitor.ts), and every `resyncMs` as a backstop, leads to
 *     a full sync that rewrites every chain and map in place (affinity sets
 *     survive), which repairs deleted rules and a deleted table; if nft
 *     refuses it (the kernel holds something the last plan does not
 *     explain), the table is rebuilt. A partial transaction that fails is
 *     followed at once by a full one.
 *
 * Transactions go to one long-lived `nft -i` (kernel/nft/session.ts) when
 * small, which is what keeps a change within a few ms at 10,000 Services.
 *
 * The table is left in place on stop, so services keep working while the
 * agent restarts; removeProxyTable() deletes it.
 */
import { performance } from "node:perf_hooks";
import { applyTransaction } from "../kernel/nft/apply.ts";
import { NftSession } from "../kernel/nft/session.ts";
import { watchTableDrift, type TableMonitor } from "../kernel/nft/monitor.ts";
import { NftTransaction } from "../kernel/nft/transaction.ts";
import type { Runner } from "../kernel/runner.ts";
import { describeError } from "../lib/errors.ts";
import { ensureSysctl } from "../kernel/sysctl.ts";
import { SyncRunner, type SyncReason } from "../lib/sync-runner.ts";
import { deleteStaleFlows, listUdpEntries, staleListedFlows, staleUdpFlows } from "./conntrack.ts";
import { diffPlans, fullSync, type SyncTx } from "./diff.ts";
import { HealthCheckServers, type HealthTarget } from "./health.ts";
import { ProxyMetrics, type SyncKind } from "./metrics.ts";
import { PlanCache, planProxy, planProxyChanged, TABLE, type PlanOptions, type PortPlan, type ProxyPlan, type ServiceFragment } from "./plan.ts";
import { serviceKey, type EndpointSlice, type Service } from "./types.ts";

export interface ServiceProxyOptions extends PlanOptions {
  /** Runs nft and conntrack in the proxy's namespace. */
  runner: Runner;
  log: (line: string) => void;
  /** Minimum time between syncs once the burst is used, in ms. Default 100. */
  minSyncIntervalMs?: number;
  /** Syncs allowed back to back. Default 4. */
  burst?: number;
  /**
   * Full resync period in ms, a backstop: drift is noticed at once by
   * watching the table (kernel/nft/monitor.ts). Default 300,000: a full sync
   * of 10,000 Services costs seconds of nft time.
   */
  resyncMs?: number;
  /** Watch the table with `nft monitor` and resync at once on a foreign change. Default true. */
  watchDrift?: boolean;
  /** Address the health check servers listen on. Default: all. */
  healthHost?: string;
}

/** The outcome of the last sync, for status. */
export interface ProxySyncStatus {
  kind: SyncKind;
  at: string;
  durationMs: number;
  /** Of which planning and diffing (the rest is nft and conntrack). */
  planMs: number;
  /** Of which the nft transaction. */
  nftMs: number;
  /** Lines of the nft transaction. */
  changes: number;
  services: number;
}

/** One service port in `weft status services`. */
export interface ServicePortStatus extends PortPlan {
  service: string;
}

export class ServiceProxy {
  readonly #opts: ServiceProxyOptions;
  readonly #runner: Runner;
  readonly #log: (line: string) => void;
  readonly #services = new Map<string, Service>();
  /** Slices by service key, then by slice name; the arrays handed to the planner are rebuilt only for the service that changed. */
  readonly #slices = new Map<string, Map<string, EndpointSlice>>();
  readonly #sliceLists = new Map<string, EndpointSlice[]>();
  /** Slice name → its service key, to find a deleted slice's service. */
  readonly #sliceOwner = new Map<string, string>();
  readonly #cache = new PlanCache();
  /** Services whose Service or slices changed since the last plan. */
  #dirty = new Set<string>();
  readonly #sync: SyncRunner;
  readonly #health: HealthCheckServers;
  readonly metrics = new ProxyMetrics();
  /** Programming latency starts of changes not yet in the kernel. */
  #pendingTriggers: number[] = [];
  #applied: ProxyPlan | undefined;
  /** Chains in the table beside #applied's (diff.ts: unused pick chains kept until a full sync). */
  #kept: ReadonlySet<string> = new Set();
  #rebuild = true;
  #needFull = false;
  #servicesSynced = false;
  #slicesSynced = false;
  #started = false;
  #last: ProxySyncStatus | undefined;
  #lastProblems = "";
  readonly #monitor: TableMonitor | undefined;
  /** Applies the transactions: a long-lived nft for the small ones (kernel/nft/session.ts). */
  readonly #nft: NftSession;

  constructor(opts: ServiceProxyOptions) {
    this.#opts = opts;
    this.#runner = opts.runner;
    this.#nft = new NftSession(opts.runner);
    this.#log = opts.log;
    planProxy([], new Map(), opts); // refuses bad options now rather than at the first sync
    this.#health = new HealthCheckServers({ log: opts.log, ...(opts.healthHost === undefined ? {} : { host: opts.healthHost }) });
    this.#sync = new SyncRunner({
      sync: (reason) => this.#syncOnce(reason),
      minIntervalMs: opts.minSyncIntervalMs ?? 100,
      burst: opts.burst ?? 4,
      periodMs: opts.resyncMs ?? 300_000,
      onError: (err) => {
        this.metrics.failures++;
        this.#log(`sync failed: ${describeError(err)}; retrying`);
      },
    });
    if (opts.watchDrift ?? true) {
      this.#monitor = watchTableDrift({
        table: TABLE,
        netns: opts.runner.netns,
        log: this.#log,
        applied: () => Boolean(this.#applied),
        resync: () => {
          this.#needFull = true;
          this.#sync.request();
        },
      });
    }
  }

  upsertService(s: Service): void {
    const key = serviceKey(s);
    this.#services.set(key, s);
    this.#dirty.add(key);
    this.#sync.request();
  }

  deleteService(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    if (this.#services.delete(key)) {
      this.#dirty.add(key);
      this.#sync.request();
    }
  }

  upsertSlice(s: EndpointSlice): void {
    const sliceKey = `${s.namespace}/${s.name}`;
    const owner = `${s.namespace}/${s.service}`;
    const before = this.#sliceOwner.get(sliceKey);
    if (before !== undefined && before !== owner) this.#dropSlice(sliceKey, before);
    this.#sliceOwner.set(sliceKey, owner);
    let m = this.#slices.get(owner);
    if (!m) this.#slices.set(owner, (m = new Map()));
    m.set(sliceKey, s);
    this.#sliceLists.set(owner, [...m.values()]);
    this.#dirty.add(owner);
    this.#pendingTriggers.push(s.triggerTimeMs ?? Date.now());
    this.#sync.request();
  }

  deleteSlice(namespace: string, name: string): void {
    const sliceKey = `${namespace}/${name}`;
    const owner = this.#sliceOwner.get(sliceKey);
    if (owner === undefined) return;
    this.#dropSlice(sliceKey, owner);
    this.#pendingTriggers.push(Date.now());
    this.#sync.request();
  }

  #dropSlice(sliceKey: string, owner: string): void {
    this.#dirty.add(owner);
    this.#sliceOwner.delete(sliceKey);
    const m = this.#slices.get(owner);
    m?.delete(sliceKey);
    if (!m || m.size === 0) {
      this.#slices.delete(owner);
      this.#sliceLists.delete(owner);
    } else this.#sliceLists.set(owner, [...m.values()]);
  }

  /** The Service informer has listed everything. */
  markServicesSynced(): void {
    this.#servicesSynced = true;
    this.#maybeStart();
  }

  /** The EndpointSlice informer has listed everything. */
  markSlicesSynced(): void {
    this.#slicesSynced = true;
    this.#maybeStart();
  }

  #maybeStart(): void {
    if (this.#started || !this.#servicesSynced || !this.#slicesSynced) return;
    this.#started = true;
    this.#monitor?.start();
    void this.#checkBridgeNetfilter();
    // The informers' first lists left their garbage (pages of JSON, API
    // objects) in the heap, all dead now: collected before the first full
    // sync, its space takes the plan and the script instead of the heap
    // growing past it. Only with --expose-gc (deploy/weft.yaml sets it).
    (globalThis as { gc?: () => void }).gc?.();
    this.#sync.start();
    this.#sync.request();
  }

  /**
   * A pod reaching a Service whose endpoint is a pod on the same bridge gets
   * its reply straight over the bridge, past the node's conntrack, so the
   * reply would come from the pod's IP instead of the Service's, unless
   * bridged IPv4 passes the ip hooks (bridge-nf-call-iptables, per
   * namespace, needs the br_netfilter module; kubeadm requires it too).
   * Set it when possible, otherwise say what breaks, once.
   */
  async #checkBridgeNetfilter(): Promise<void> {
    try {
      await ensureSysctl(this.#runner, "net.bridge.bridge-nf-call-iptables", "1");
    } catch (err) {
      this.#log(`${describeError(err)}; until it is 1 (modprobe br_netfilter first), a pod cannot reach a Service through an endpoint on its own node`);
    }
  }

  /** True once a sync has put the table in the kernel. */
  get synced(): boolean {
    return this.#applied !== undefined;
  }

  /** Resolves after a sync that started after this call (for tests and tools); requires both inputs synced. */
  syncNow(): Promise<void> {
    return this.#sync.requestAndWait();
  }

  /** Like syncNow, but the sync rewrites the whole table in place, as the periodic resync does. */
  resyncNow(): Promise<void> {
    if (this.#applied) this.#needFull = true;
    return this.#sync.requestAndWait();
  }

  async #syncOnce(reason: SyncReason): Promise<void> {
    const started = performance.now();
    const triggers = this.#pendingTriggers;
    this.#pendingTriggers = [];
    const dirty = this.#dirty;
    this.#dirty = new Set();
    try {
      const prev = this.#applied;
      const full = prev === undefined || this.#rebuild || reason !== "request" || this.#needFull;
      // A partial sync plans only the services that changed; a full one plans them all.
      const plan = full ? planProxy(this.#services.values(), this.#sliceLists, this.#opts, this.#cache) : planProxyChanged(dirty, this.#services, this.#sliceLists, this.#opts, this.#cache);
      let kind: SyncKind;
      let tx: SyncTx;
      let planned = performance.now();
      if (prev === undefined || this.#rebuild) {
        kind = "full";
        tx = fullSync(plan, prev, true);
        planned = performance.now();
        await this.#nft.apply(tx.tx, this.#monitor?.ownSpawn);
      } else if (full) {
        kind = "full";
        tx = await this.#applyFull(plan, prev);
      } else {
        kind = "partial";
        // The plan before this one is the one applied (a failed sync is followed by a full one).
        tx = diffPlans(prev, plan, plan.replanned, this.#kept);
        planned = performance.now();
        try {
          await this.#nft.apply(tx.tx, this.#monitor?.ownSpawn);
        } catch (err) {
          this.#log(`partial sync refused (${describeError(err)}); the kernel's table differs from the last one applied, syncing it whole`);
          kind = "full";
          tx = await this.#applyFull(plan, prev);
        }
      }
      this.#applied = plan;
      this.#kept = tx.kept;
      this.#rebuild = this.#needFull = false;
      this.#nft.warm(); // the changes that follow go through it
      const now = Date.now();
      for (const t of triggers) this.metrics.programming.observe(Math.max(0, now - t) / 1000);
      // What a partial sync replanned (a superset of what changed in the table), for the gauges and health servers.
      const replanned = kind === "full" || plan.replanned === undefined ? undefined : [...plan.replanned];
      this.#recordPlan(plan, prev, replanned);
      this.metrics.syncs[kind]++;
      this.metrics.lastSyncAt = now;
      const applied = performance.now();
      const ms = applied - started;
      this.metrics.syncDuration.observe(ms / 1000);
      const round = (x: number) => Math.round(x * 100) / 100;
      this.#last = { kind, at: new Date(now).toISOString(), durationMs: round(ms), planMs: round(planned - started), nftMs: round(applied - planned), changes: tx.tx.size, services: tx.services.length };
      const problems = plan.problems.join("\n");
      if (problems !== this.#lastProblems) {
        for (const p of plan.problems) this.#log(p);
        this.#lastProblems = problems;
      }
      await this.#afterApply(prev, plan, kind === "full" ? undefined : tx.services, replanned);
    } catch (err) {
      this.#pendingTriggers.unshift(...triggers);
      for (const k of dirty) this.#dirty.add(k);
      this.#needFull = true;
      throw err;
    }
  }

  /** Full sync in place; when nft refuses it, rebuild the table. */
  async #applyFull(plan: ProxyPlan, prev: ProxyPlan): Promise<SyncTx> {
    const tx = fullSync(plan, prev, false, this.#kept);
    try {
      await this.#nft.apply(tx.tx, this.#monitor?.ownSpawn);
      return tx;
    } catch (err) {
      this.#log(`full sync refused (${describeError(err)}); rebuilding table ${TABLE.family} ${TABLE.name}`);
      const rebuilt = fullSync(plan, prev, true);
      await this.#nft.apply(rebuilt.tx, this.#monitor?.ownSpawn);
      return rebuilt;
    }
  }

  /** Conntrack cleanup and health servers; their failures are logged, not retried as a sync. */
  async #afterApply(prev: ProxyPlan | undefined, plan: ProxyPlan, changed: string[] | undefined, replanned: string[] | undefined): Promise<void> {
    const keys = changed ?? [...new Set([...(prev?.fragments.keys() ?? []), ...plan.fragments.keys()])];
    const before: PortPlan[] = [];
    const after: PortPlan[] = [];
    for (const k of keys) {
      const a = prev?.fragments.get(k);
      const b = plan.fragments.get(k);
      if (a === b) continue;
      if (a) before.push(...a.ports);
      if (b) after.push(...b.ports);
    }
    const flows = prev === undefined ? [] : staleUdpFlows(before, after);
    if (changed === undefined && plan.fragments.size > 0) {
      const ports = [...plan.fragments.values()].flatMap((f) => f.ports);
      try {
        if (ports.some((p) => p.protocol === "UDP" && p.endpoints.length > 0)) flows.push(...staleListedFlows(await listUdpEntries(this.#runner), ports));
      } catch (err) {
        this.#log(`stale UDP conntrack entries not listed: ${describeError(err)}`);
      }
    }
    if (flows.length) {
      const r = await deleteStaleFlows(this.#runner, flows);
      this.metrics.staleFlowsDeleted += r.deleted;
      for (const e of r.errors) this.#log(`stale UDP conntrack entries not deleted: ${e}`);
    }
    // The health servers follow the services that have one; a partial sync that touched none leaves them.
    if (replanned !== undefined && !replanned.some((k) => prev?.fragments.get(k)?.health || plan.fragments.get(k)?.health)) return;
    const wanted = new Map<number, HealthTarget>();
    for (const f of plan.fragments.values()) if (f.health) wanted.set(f.health.port, { service: f.key, localEndpoints: f.health.localEndpoints });
    await this.#health.sync(wanted);
  }

  /** The programmed-objects gauges: counted whole after a full sync, adjusted by the services a partial one changed. */
  #recordPlan(plan: ProxyPlan, prev: ProxyPlan | undefined, changed: string[] | undefined): void {
    const m = this.metrics;
    const count = (f: ServiceFragment | undefined, sign: number) => {
      if (!f) return;
      if (f.ports.length) m.services += sign;
      m.servicePorts += sign * f.ports.length;
      for (const p of f.ports) m.endpoints += sign * p.endpoints.length;
    };
    if (changed !== undefined && prev !== undefined) {
      for (const k of changed) {
        count(prev.fragments.get(k), -1);
        count(plan.fragments.get(k), 1);
      }
      return;
    }
    m.services = m.servicePorts = m.endpoints = 0;
    for (const f of plan.fragments.values()) count(f, 1);
  }

  /** The last sync, or undefined before the first. */
  lastSync(): ProxySyncStatus | undefined {
    return this.#last;
  }

  /** Every programmed service port with its endpoints, as of the last sync. */
  servicePorts(): ServicePortStatus[] {
    const out: ServicePortStatus[] = [];
    for (const f of this.#applied?.fragments.values() ?? []) for (const p of f.ports) out.push({ service: f.key, ...p });
    return out;
  }

  /** Health check ports served now. */
  healthPorts(): number[] {
    return this.#health.ports();
  }

  /** Stops syncing and closes the health servers; the table stays (services keep working across a restart). Idempotent. */
  async stop(): Promise<void> {
    this.#monitor?.stop();
    await this.#sync.stop();
    this.#nft.close();
    await this.#health.close();
  }

}

/** Deletes the proxy's table (`weft agent --cleanup`); succeeds when it is already gone. */
export async function removeProxyTable(runner: Runner): Promise<void> {
  await applyTransaction(runner, new NftTransaction(TABLE).deleteTable());
}
