/**
 * The other nodes, as the store's watch reports them, and the loop that
 * keeps the backend in step with them.
 *
 * Watch events update an in-memory map of leases; every change asks for a
 * reconcile, and requests that arrive while one runs are folded into one
 * more run afterwards, so a burst of 50 new leases costs two reconciles,
 * not 50, and a peer is never programmed from a stale list. A change asks
 * for a "changes" reconcile: the backend writes only what differs from
 * what it programmed last, without reading the kernel, so one Node added or
 * deleted costs each agent one batch with that peer's entries, not a pass
 * over every peer. The start and the agent's periodic resync ask for a
 * "full" one, which reads the kernel and repairs drift; a full request wins
 * over a changes one folded with it. Nothing here talks to the store: while
 * the store is down the map simply stops changing, and the routes it
 * describes stay.
 */
import type { Backend, Peer, PeerProblem, ReconcileMode, ReconcileReport } from "../backend/types.ts";
import { describeError } from "../lib/errors.ts";
import type { Lease, LeaseEvent } from "../store/types.ts";
import { Histogram } from "../metrics/histogram.ts";
import { RECONCILE_BUCKETS } from "./metrics.ts";
import type { PeerStatus, ReconcileStatus } from "./status.ts";

/** How long a change waits for others to arrive with it, in ms. */
const COALESCE_MS = 5;

/** The peer leases and the reconcile loop over them. */
export class PeerSync {
  readonly #leases = new Map<string, Lease>();
  readonly #backend: Backend;
  readonly #self: () => { node: string; subnet: string | null; backend: string };
  readonly #log: (line: string) => void;
  /** Recovers from a whole reconcile failing, e.g. by setting the backend up again. */
  readonly #repair: (err: unknown) => Promise<void>;
  #running: Promise<void> | undefined;
  /** The reconcile asked for and not begun yet: after the running one, or when the timer fires. */
  #pending: ReconcileMode | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #lastReport: ReconcileReport | undefined;
  readonly #stats: Omit<ReconcileStatus, "duration"> = {
    runs: 0, failures: 0, problems: 0, lastAt: null, lastDurationMs: null, lastProblems: [],
  };
  readonly #duration = new Histogram(RECONCILE_BUCKETS);
  #lastLoggedProblems = "";

  constructor(o: {
    backend: Backend;
    self: () => { node: string; subnet: string | null; backend: string };
    log: (line: string) => void;
    repair: (err: unknown) => Promise<void>;
  }) {
    this.#backend = o.backend;
    this.#self = o.self;
    this.#log = o.log;
    this.#repair = o.repair;
  }

  /** Replaces the whole map, e.g. from `store.list()` before the watch starts. */
  seed(leases: readonly Lease[]): void {
    this.#leases.clear();
    for (const l of leases) this.#leases.set(l.subnet, l);
  }

  /** Applies one watch event and asks for a reconcile when peers changed. */
  onEvent(event: LeaseEvent): void {
    if (event.type === "put") this.#leases.set(event.lease.subnet, event.lease);
    else if (!this.#leases.delete(event.subnet)) return;
    this.request();
  }

  /** The peers: every lease except ours, and peers of another backend set aside. */
  peers(): { peers: Peer[]; problems: PeerProblem[] } {
    const self = this.#self();
    const peers: Peer[] = [];
    const problems: PeerProblem[] = [];
    for (const l of this.#others()) {
      if (l.attrs.backend !== self.backend) {
        problems.push({
          peer: l.attrs.node,
          code: "PEER_BACKEND_MISMATCH",
          message: `peer ${l.attrs.node} runs the ${l.attrs.backend} backend and this node runs ${self.backend}; every node of a cluster must use the same --backend`,
        });
        continue;
      }
      peers.push({ node: l.attrs.node, publicIp: l.attrs.publicIp, subnet: l.subnet, backendData: l.attrs.backendData });
    }
    return { peers, problems };
  }

  /** Every lease but ours (by node name, or by subnet while a stale record of ours lingers). */
  #others(): Lease[] {
    const self = this.#self();
    return [...this.#leases.values()].filter((l) => l.attrs.node !== self.node && l.subnet !== self.subnet);
  }

  /**
   * Asks for a reconcile soon (default "changes": what the lease events
   * changed; "full" also reads the kernel); cheap to call often.
   */
  request(mode: ReconcileMode = "changes"): void {
    if (this.#stopped) return;
    this.#ask(mode);
    if (this.#running) return;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.#run();
    }, COALESCE_MS);
  }

  /** Runs a full reconcile now (or waits for the one running and runs one after it); resolves when done. */
  async reconcileNow(): Promise<void> {
    this.#ask("full");
    return this.#run();
  }

  #ask(mode: ReconcileMode): void {
    if (this.#pending !== "full") this.#pending = mode;
  }

  async #run(): Promise<void> {
    if (this.#running) return this.#running;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = this.#loop();
    try {
      await this.#running;
    } finally {
      this.#running = undefined;
    }
  }

  async #loop(): Promise<void> {
    while (this.#pending !== undefined && !this.#stopped) {
      const mode = this.#pending;
      this.#pending = undefined;
      await this.#once(mode);
    }
  }

  async #once(mode: ReconcileMode): Promise<void> {
    const started = performance.now();
    const { peers, problems } = this.peers();
    try {
      let report: ReconcileReport;
      try {
        report = await this.#backend.reconcile(peers, mode);
      } catch (err) {
        // The device may have been deleted under us: set it up and try once more, reading what is there.
        await this.#repair(err);
        report = await this.#backend.reconcile(peers, "full");
      }
      report = { ...report, problems: [...problems, ...report.problems] };
      this.#lastReport = report;
      this.#record(started, report.problems);
      if (report.changed.length || report.removed.length) {
        const parts = [];
        if (report.changed.length) parts.push(`programmed ${report.changed.join(", ")}`);
        if (report.removed.length) parts.push(`removed ${report.removed.join(", ")}`);
        this.#log(`${parts.join("; ")} (${peers.length} peer${peers.length === 1 ? "" : "s"}, ${(performance.now() - started).toFixed(1)} ms)`);
      }
      const text = report.problems.map((p) => p.message).join(" | ");
      if (text !== this.#lastLoggedProblems) {
        for (const p of report.problems) this.#log(`${p.code}: ${p.message}`);
        this.#lastLoggedProblems = text;
      }
    } catch (err) {
      this.#stats.failures++;
      this.#record(started, []);
      this.#log(`reconcile failed: ${describeError(err)}; retrying at the next change or resync`);
    }
  }

  #record(started: number, problems: PeerProblem[]): void {
    const ms = performance.now() - started;
    const s = this.#stats;
    s.runs++;
    s.problems += problems.length;
    s.lastAt = new Date().toISOString();
    s.lastDurationMs = Math.round(ms * 100) / 100;
    s.lastProblems = problems;
    this.#duration.observe(ms / 1000);
  }

  /** True once a reconcile has completed. */
  get reconciled(): boolean {
    return this.#lastReport !== undefined;
  }

  /** Each peer with the state its last reconcile left it in. */
  peerStatus(): PeerStatus[] {
    const problems = new Map((this.#lastReport?.problems ?? []).map((p) => [p.peer, p]));
    return this.#others().map((l) => {
      const problem = problems.get(l.attrs.node);
      const status: PeerStatus = {
        node: l.attrs.node, publicIp: l.attrs.publicIp, subnet: l.subnet, backend: l.attrs.backend,
        backendData: l.attrs.backendData, leaseExpiresAt: l.expiresAt, state: problem ? "problem" : "programmed",
      };
      if (problem) status.problem = problem;
      return status;
    });
  }

  /** The reconcile counters (a copy). */
  stats(): ReconcileStatus {
    return { ...this.#stats, lastProblems: [...this.#stats.lastProblems], duration: this.#duration.snapshot() };
  }

  /** Stops asking for reconciles and waits for a running one. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }
}
