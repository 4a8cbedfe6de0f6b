/**
 * The network policy controller: keeps table `inet weft-policy`
 * (compile.ts) in step with Pods, Namespaces and NetworkPolicies. It owns
 * that table alone and writes nowhere else (plus, in strict mode, the
 * conntrack entries of flows the policies deny).
 *
 * Inputs arrive as informer events. Nothing is synced until all three kinds
 * have reported their first list, so a half-known cluster is never enforced
 * (a policy whose peers' pods are not listed yet would cut them off).
 *
 * Syncs run through a SyncRunner (coalesced, rate-bounded, retried). Each
 * compiles the whole plan (pure, milliseconds for thousands of objects) and
 * applies:
 *   - on the first sync, the table rebuilt (deleted and defined in one
 *     transaction; conntrack keeps established flows across it);
 *   - on a change, only the difference to the last plan applied;
 *   - on drift (another process touched the table, seen by `nft monitor`)
 *     and every `resyncMs`, everything rewritten in place; when nft refuses
 *     that, a rebuild. A refused partial sync is followed by a full one.
 * Transactions go through one long-lived `nft -i` (kernel/nft/session.ts,
 * as the service proxy's do): a pod's address or a policy's peers cost
 * about a millisecond, not an nft process's start and exit.
 *
 * Bridged pod-to-pod traffic on one node meets the forward hook only with
 * net.bridge.bridge-nf-call-iptables=1 in the node's namespace, which the
 * controller sets when it starts (`bridgeNetfilter`).
 *
 * Existing connections when a policy starts denying them continue by
 * default (replies and established flows are accepted first, as upstream
 * implementations do); with `strict` their conntrack entries are deleted
 * after the sync (conntrack.ts), so they stop at their next packet.
 *
 * A new pod's address reaches the controller twice: from the CNI plugin at
 * ADD (podAdded, through the agent's API), before the pod's containers
 * start, and later from the Pod object's status.podIPs, which the kubelet
 * writes after the sandbox is up. Until the second has it, the first counts
 * too, so a pod a policy selects is isolated from its first packet rather
 * than from whenever its status reaches the informer (see
 * README.md, "A new pod is isolated before it starts").
 *
 * The table stays when the controller stops (pods stay protected while the
 * agent restarts); remove() deletes it.
 */
import { performance } from "node:perf_hooks";
import { applyTransaction } from "../kernel/nft/apply.ts";
import { watchTableDrift, type TableMonitor } from "../kernel/nft/monitor.ts";
import { NftSession } from "../kernel/nft/session.ts";
import { NftTransaction } from "../kernel/nft/transaction.ts";
import { readJson, type Runner } from "../kernel/runner.ts";
import { ensureSysctl } from "../kernel/sysctl.ts";
import type { IpLink } from "../kernel/json.ts";
import { describeError } from "../lib/errors.ts";
import { SyncRunner, type SyncReason } from "../lib/sync-runner.ts";
import { compilePolicies, EGRESS_DROP, INGRESS_DROP, TABLE, type PodPolicyStatus, type PolicyPlan } from "./compile.ts";
import { deleteFlows, deniedFlows, listFlows } from "./conntrack.ts";
import { fullSync, diffPlans } from "./diff.ts";
import { PolicyMetrics, type SyncKind } from "./metrics.ts";
import { explain, type ExplainQuery, type Explanation } from "./explain.ts";
import { keyOf, type Namespace, type NetworkPolicy, type Pod } from "./types.ts";
import { PolicyIndex, policySelects } from "./world.ts";

/** How long podAdded waits for the informer before it asks the API server for the pod. */
const FETCH_AFTER_MS = 300;

export interface PolicyControllerOptions {
  /** This node's name (Pod.node of its pods). */
  nodeName: string;
  /** Runs nft, conntrack and sysctl in the node's namespace. */
  runner: Runner;
  log: (line: string) => void;
  /** Delete the conntrack entries of flows a policy starts denying. Default false. */
  strict?: boolean;
  /** Set net.bridge.bridge-nf-call-iptables=1 at start (same-node pod traffic is bridged). Default true. */
  bridgeNetfilter?: boolean;
  /** Minimum time between syncs once the burst is used, in ms. Default 100. */
  minSyncIntervalMs?: number;
  /** Syncs allowed back to back. Default 4. */
  burst?: number;
  /** Full resync period in ms, a backstop to the drift monitor. Default 300,000. */
  resyncMs?: number;
  /** Watch the table with `nft monitor` and resync at once on a foreign change. Default true. */
  watchDrift?: boolean;
}

/** The outcome of the last sync. */
export interface PolicySyncStatus {
  kind: SyncKind;
  at: string;
  durationMs: number;
  /** Of which compiling and diffing (the rest is nft, and conntrack in strict mode). */
  compileMs: number;
  /** Operations in the nft transaction. */
  changes: number;
}

/** What the controller answers the CNI plugin's podAdded. */
export interface PodAddedAnswer {
  /** True when the table in the kernel covers the pod at its address. */
  programmed: boolean;
  /** Why not, when not. */
  reason?: string;
  /** False when the informer has no such pod: no policy can select a pod the API does not have. */
  known?: boolean;
  /** The pod's isolation as programmed. */
  isolated?: { ingress: boolean; egress: boolean };
}

/** What `weft status policy` shows. */
export interface PolicyStatus {
  node: string;
  strict: boolean;
  synced: boolean;
  last: PolicySyncStatus | null;
  policies: number;
  pods: PodPolicyStatus[];
  problems: string[];
}

export class PolicyController {
  readonly #o: PolicyControllerOptions;
  readonly #pods = new Map<string, Pod>();
  readonly #namespaces = new Map<string, Namespace>();
  readonly #policies = new Map<string, NetworkPolicy>();
  /** The address the CNI plugin reported at the pod's latest ADD, by pod key, until its status has it. */
  readonly #sandboxIps = new Map<string, string>();
  /** podAdded calls waiting for their pod to reach the informer, by pod key. */
  readonly #podWaiters = new Map<string, Set<() => void>>();
  /** podAdded calls waiting for the first list of every input. */
  readonly #startWaiters = new Set<() => void>();
  readonly #sync: SyncRunner;
  readonly #monitor: TableMonitor | undefined;
  /** One long-lived nft for small transactions (a pod's address, a policy's peers); large ones spawn `nft -f -`. */
  readonly #nft: NftSession;
  readonly metrics = new PolicyMetrics();
  readonly #synced = { pods: false, namespaces: false, policies: false };
  #started = false;
  #applied: PolicyPlan | undefined;
  #needFull = false;
  #last: PolicySyncStatus | undefined;
  #lastProblems = "";
  /** Drop counters as last read, and what earlier tables had counted. */
  #counted = { ingress: 0, egress: 0 };
  #countedBefore = { ingress: 0, egress: 0 };

  constructor(o: PolicyControllerOptions) {
    this.#o = o;
    this.#nft = new NftSession(o.runner);
    this.#sync = new SyncRunner({
      sync: (reason) => this.#syncOnce(reason),
      minIntervalMs: o.minSyncIntervalMs ?? 100,
      burst: o.burst ?? 4,
      periodMs: o.resyncMs ?? 300_000,
      onError: (err) => {
        this.metrics.failures++;
        o.log(`sync failed: ${describeError(err)}; retrying`);
      },
    });
    if (o.watchDrift ?? true) {
      this.#monitor = watchTableDrift({
        table: TABLE,
        netns: o.runner.netns,
        log: o.log,
        applied: () => Boolean(this.#applied),
        resync: () => {
          this.#needFull = true;
          this.#sync.request();
        },
      });
    }
  }

  upsertPod(p: Pod): void {
    const key = keyOf(p);
    this.#pods.set(key, p);
    const reported = this.#sandboxIps.get(key);
    if (reported !== undefined && p.ips.includes(reported)) this.#sandboxIps.delete(key);
    for (const wake of this.#podWaiters.get(key) ?? []) wake();
    this.#sync.request();
  }
  deletePod(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    this.#sandboxIps.delete(key);
    if (this.#pods.delete(key)) this.#sync.request();
  }
  upsertNamespace(n: Namespace): void {
    this.#namespaces.set(n.name, n);
    this.#sync.request();
  }
  deleteNamespace(name: string): void {
    if (this.#namespaces.delete(name)) this.#sync.request();
  }
  upsertPolicy(p: NetworkPolicy): void {
    this.#policies.set(keyOf(p), p);
    this.#sync.request();
  }
  deletePolicy(namespace: string, name: string): void {
    if (this.#policies.delete(`${namespace}/${name}`)) this.#sync.request();
  }

  markPodsSynced(): void {
    this.#synced.pods = true;
    void this.#maybeStart();
  }
  markNamespacesSynced(): void {
    this.#synced.namespaces = true;
    void this.#maybeStart();
  }
  markPoliciesSynced(): void {
    this.#synced.policies = true;
    void this.#maybeStart();
  }

  async #maybeStart(): Promise<void> {
    const s = this.#synced;
    if (this.#started || !s.pods || !s.namespaces || !s.policies) return;
    this.#started = true;
    if (this.#o.bridgeNetfilter ?? true) {
      try {
        await ensureSysctl(this.#o.runner, "net.bridge.bridge-nf-call-iptables", "1");
      } catch (err) {
        this.#o.log(`${describeError(err)}; until it is set, traffic between pods of this node is not filtered`);
      }
    }
    this.#monitor?.start();
    this.#sync.start();
    this.#sync.request();
    for (const wake of this.#startWaiters) wake();
  }

  /** True once a sync has put the table in the kernel. */
  get synced(): boolean {
    return this.#applied !== undefined;
  }

  /** Resolves after a sync that started after this call (tests and tools); needs all inputs synced. */
  syncNow(): Promise<void> {
    return this.#sync.requestAndWait();
  }

  /** Like syncNow, rewriting the whole table in place. */
  resyncNow(): Promise<void> {
    if (this.#applied) this.#needFull = true;
    return this.#sync.requestAndWait();
  }

  /**
   * The CNI plugin's word, at ADD, that pod `namespace/name` has `ip`:
   * resolves once a sync that knows it has reached the kernel, so the
   * plugin can return (and the runtime start the containers) with the pod
   * already isolated; at once for a pod no policy selects (it has nothing
   * to be isolated by; the sync follows). A pod the informer has not
   * listed yet is waited for up to `waitMs` (it is scheduled before its
   * sandbox is made, so it is normally there), and so is an agent still
   * listing its inputs. Never
   * throws: the answer says what was not done.
   */
  async podAdded(namespace: string, name: string, ip: string, waitMs = 1000, fetchPod?: () => Promise<Pod | undefined>): Promise<PodAddedAnswer> {
    // An agent just started is listing: wait for that rather than send the runtime into its back-off.
    if (!this.#started && !(await this.#waitFor(this.#startWaiters, waitMs))) return { programmed: false, reason: "network policy has not synced yet (it waits for the first list of pods, namespaces and policies)" };
    const key = `${namespace}/${name}`;
    // The kubelet may call ADD before the informer has the pod (its watch
    // event is late under load): ask the API server itself then, since
    // "unknown" lets the pod start unprotected.
    const informerWait = fetchPod ? Math.min(waitMs, FETCH_AFTER_MS) : waitMs;
    if (!this.#pods.has(key) && !(await this.#waitForPod(key, informerWait))) {
      const fetched = await fetchPod?.().catch(() => undefined);
      if (fetched && !this.#pods.has(key)) this.upsertPod(fetched);
      if (!this.#pods.has(key)) return { programmed: false, known: false, reason: `pod ${key} is not known to the agent's informer after ${informerWait} ms${fetchPod ? ", nor to the API server" : ""}` };
    }
    const pod = this.#pods.get(key)!;
    // A status with another address is an earlier sandbox's (one being replaced): the latest ADD's address counts too.
    if (pod.ips.includes(ip)) this.#sandboxIps.delete(key);
    else this.#sandboxIps.set(key, ip);
    if (!this.#selectedByAny(pod)) {
      // No policy selects the pod: the table holds nothing of its own that
      // the pod must wait for, so ADD returns now rather than after the
      // sync, which a burst of pods on a node would otherwise queue behind
      // the sync rate limit. The sync still comes, and adds the address to
      // the peer sets of the policies that name the pod; until then their
      // pods refuse it, never the other way round.
      this.#sync.request();
      return { programmed: true, isolated: { ingress: false, egress: false } };
    }
    await this.#sync.requestAndWait();
    // The run may have failed (it is retried); only a table that has the pod at this address counts.
    const status = this.#applied?.pods.find((p) => p.namespace === namespace && p.name === name && p.ips.includes(ip));
    if (!status) return { programmed: false, reason: `the last sync did not program ${key} at ${ip} (is it on node ${this.#o.nodeName}? the agent's log says more)` };
    // A packet sent to this address before it was a pod's passed the table
    // then, and may still wait in the node's neighbour queue for the address
    // to answer ARP, which the pod will do the moment it exists: it would
    // arrive unfiltered, and the pod's reply would count as established.
    // Dropping the neighbour entry drops that queue; anything sent again
    // meets the table. A pod no policy isolates has nothing to bypass, so
    // ADD spawns nothing for it (the common case: no policies at all).
    const isolated = { ingress: status.ingress.isolated, egress: status.egress.isolated };
    if (isolated.ingress || isolated.egress) {
      const flushed = await this.#o.runner.exec(["ip", "neigh", "flush", "to", ip]);
      if (flushed.code !== 0) this.#o.log(`policy: ip neigh flush to ${ip} failed: ${flushed.stderr.trim()}`);
    }
    return { programmed: true, isolated };
  }

  /** Whether some policy selects `pod`, in either direction. */
  #selectedByAny(pod: Pod): boolean {
    for (const p of this.#policies.values()) if (policySelects(p, pod)) return true;
    return false;
  }

  #waitForPod(key: string, waitMs: number): Promise<boolean> {
    let waiters = this.#podWaiters.get(key);
    if (!waiters) this.#podWaiters.set(key, (waiters = new Set()));
    return this.#waitFor(waiters, waitMs, () => this.#podWaiters.delete(key));
  }

  /** Resolves true when one of `waiters` is called, false after `waitMs`; `emptied` runs when the set empties. */
  #waitFor(waiters: Set<() => void>, waitMs: number, emptied?: () => void): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (woken: boolean) => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (waiters.size === 0) emptied?.();
        resolve(woken);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), waitMs);
      waiters.add(wake);
    });
  }

  /**
   * The pods as policy sees them: a pod has the address its latest CNI ADD
   * reported as well as its status's, until the status has it (the status
   * may still show the address of a sandbox that is being replaced, and the
   * kubelet writes the new one only once the new sandbox is up).
   */
  *#effectivePods(): Iterable<Pod> {
    for (const [key, p] of this.#pods) {
      const ip = this.#sandboxIps.get(key);
      yield ip === undefined ? p : { ...p, ips: [ip, ...p.ips] };
    }
  }

  /** Why policy allows or drops `q`, rule by rule, by the objects known now (not only what the last sync applied). */
  explain(q: ExplainQuery): Explanation {
    return explain(new PolicyIndex({ pods: this.#effectivePods(), namespaces: this.#namespaces.values(), policies: this.#policies.values() }), q);
  }

  async #syncOnce(reason: SyncReason): Promise<void> {
    const started = performance.now();
    const plan = compilePolicies({ policies: this.#policies.values(), pods: this.#effectivePods(), namespaces: this.#namespaces.values(), nodeName: this.#o.nodeName });
    const prev = this.#applied;
    let kind: SyncKind = "full";
    let tx: NftTransaction;
    let compiled = performance.now();
    try {
      if (prev === undefined) {
        tx = fullSync(plan, undefined, true);
        compiled = performance.now();
        await this.#apply(tx);
      } else if (reason !== "request" || this.#needFull) {
        tx = await this.#applyFull(plan, prev);
      } else {
        kind = "partial";
        tx = diffPlans(prev, plan);
        compiled = performance.now();
        try {
          await this.#apply(tx);
        } catch (err) {
          this.#o.log(`partial sync refused (${describeError(err)}); the kernel's table differs from the last one applied, syncing it whole`);
          kind = "full";
          tx = await this.#applyFull(plan, prev);
        }
      }
    } catch (err) {
      this.#needFull = true;
      throw err;
    }
    this.#applied = plan;
    this.#needFull = false;
    if (this.#o.strict && tx.size > 0) await this.#deleteDeniedFlows();
    const now = Date.now();
    const ms = performance.now() - started;
    this.metrics.syncs[kind]++;
    this.metrics.syncDuration.observe(ms / 1000);
    this.metrics.lastSyncAt = now;
    this.metrics.policies = this.#policies.size;
    this.metrics.isolated = { ingress: plan.pods.filter((p) => p.ingress.isolated).length, egress: plan.pods.filter((p) => p.egress.isolated).length };
    const round = (x: number) => Math.round(x * 100) / 100;
    this.#last = { kind, at: new Date(now).toISOString(), durationMs: round(ms), compileMs: round(compiled - started), changes: tx.size };
    const problems = plan.problems.join("\n");
    if (problems !== this.#lastProblems) {
      for (const p of plan.problems) this.#o.log(p);
      this.#lastProblems = problems;
    }
  }

  async #apply(tx: NftTransaction): Promise<void> {
    // A rebuild, or a full sync rewriting the drop chains, starts their counters again: read them first.
    const resets = tx.ops.some((o) => o.op === "delete-table" || (o.op === "flush-chain" && (o.chain === INGRESS_DROP || o.chain === EGRESS_DROP)));
    if (resets) await this.readCounters().catch(() => {});
    await this.#nft.apply(tx, this.#monitor?.ownSpawn);
    this.#nft.warm(); // the changes that follow go through it
    if (resets) {
      this.#countedBefore = { ingress: this.metrics.dropped.ingress, egress: this.metrics.dropped.egress };
      this.#counted = { ingress: 0, egress: 0 };
    }
  }

  /** Full sync in place; when nft refuses it, rebuild the table. */
  async #applyFull(plan: PolicyPlan, prev: PolicyPlan): Promise<NftTransaction> {
    const tx = fullSync(plan, prev, false);
    try {
      await this.#apply(tx);
      return tx;
    } catch (err) {
      this.#o.log(`full sync refused (${describeError(err)}); rebuilding table ${TABLE.family} ${TABLE.name}`);
      const rebuilt = fullSync(plan, prev, true);
      await this.#apply(rebuilt);
      return rebuilt;
    }
  }

  async #deleteDeniedFlows(): Promise<void> {
    try {
      const links = await readJson<IpLink[]>(this.#o.runner, ["ip", "-j", "-4", "addr"]);
      const local = links.flatMap((l) => (l.addr_info ?? []).map((a) => a.local));
      const index = new PolicyIndex({ pods: this.#effectivePods(), namespaces: this.#namespaces.values(), policies: this.#policies.values() });
      const denied = deniedFlows(index, await listFlows(this.#o.runner), local);
      if (denied.length === 0) return;
      const r = await deleteFlows(this.#o.runner, denied);
      this.metrics.flowsDeleted += r.deleted;
      for (const e of r.errors) this.#o.log(`conntrack entry of a denied flow not deleted: ${e}`);
    } catch (err) {
      this.#o.log(`strict mode: tracked flows not checked: ${describeError(err)}`);
    }
  }

  /** Reads the drop chains' counters into the metrics (cumulative across table rebuilds). */
  async readCounters(): Promise<void> {
    if (!this.#applied) return;
    for (const [dir, chain] of [["ingress", INGRESS_DROP], ["egress", EGRESS_DROP]] as const) {
      const listing = await readJson<{ nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[] }>(this.#o.runner, ["nft", "-j", "list", "chain", TABLE.family, TABLE.name, chain]);
      let packets = 0;
      for (const o of listing.nftables) for (const e of o.rule?.expr ?? []) packets += e.counter?.packets ?? 0;
      // A table rebuilt behind our back (drift) starts again from 0; what it had counted since the last read is lost.
      if (packets < this.#counted[dir]) this.#countedBefore[dir] += this.#counted[dir];
      this.#counted[dir] = packets;
      this.metrics.dropped[dir] = this.#countedBefore[dir] + packets;
    }
  }

  /** The last sync, or undefined before the first. */
  lastSync(): PolicySyncStatus | undefined {
    return this.#last;
  }

  status(): PolicyStatus {
    return {
      node: this.#o.nodeName,
      strict: this.#o.strict ?? false,
      synced: this.synced,
      last: this.#last ?? null,
      policies: this.#policies.size,
      pods: this.#applied?.pods ?? [],
      problems: this.#applied?.problems ?? [],
    };
  }

  /** Stops syncing; the table stays. Idempotent. */
  async stop(): Promise<void> {
    this.#monitor?.stop();
    await this.#sync.stop();
    this.#nft.close();
  }

  /** Deletes the table (turning policy off); succeeds when it is already gone. */
  async remove(): Promise<void> {
    await this.stop();
    await applyTransaction(this.#o.runner, new NftTransaction(TABLE).deleteTable());
    this.#applied = undefined;
  }
}
