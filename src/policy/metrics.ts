/**
 * The network policy's metrics, cumulative from start (rules:
 * metrics/exposition.ts), observed inside the sync loop; drops are the
 * kernel's counters in the table's two drop chains, read on demand.
 */
import { Exposition } from "../metrics/exposition.ts";
import { Histogram } from "../metrics/histogram.ts";

/** Sync duration bounds in seconds: 1 ms to 30 s. */
export const SYNC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

export type SyncKind = "full" | "partial";

export class PolicyMetrics {
  readonly syncDuration = new Histogram(SYNC_BUCKETS);
  readonly syncs: Record<SyncKind, number> = { full: 0, partial: 0 };
  failures = 0;
  flowsDeleted = 0;
  /** Packets dropped by policy, cumulative across table rebuilds. */
  dropped = { ingress: 0, egress: 0 };
  policies = 0;
  isolated = { ingress: 0, egress: 0 };
  lastSyncAt: number | null = null;

  render(out = new Exposition()): Exposition {
    out.histogram("weft_policy_sync_duration_seconds", "How long a network policy sync took (compile, diff and nft transaction).", this.syncDuration.snapshot());
    out.family("weft_policy_syncs_total", "counter", "Network policy syncs applied, by kind: full (every chain and set rewritten) or partial (only what changed).", [
      { labels: { kind: "full" }, value: this.syncs.full },
      { labels: { kind: "partial" }, value: this.syncs.partial },
    ]);
    out.family("weft_policy_sync_failures_total", "counter", "Network policy syncs that failed and were retried.", [{ value: this.failures }]);
    out.family("weft_policy_dropped_packets_total", "counter", "Packets dropped by network policy on this node (nft counters of table inet weft-policy), by direction.", [
      { labels: { direction: "ingress" }, value: this.dropped.ingress },
      { labels: { direction: "egress" }, value: this.dropped.egress },
    ]);
    out.family("weft_policy_conntrack_flows_deleted_total", "counter", "Tracked connections deleted because a policy started denying them (strict mode).", [{ value: this.flowsDeleted }]);
    out.family("weft_policy_policies", "gauge", "NetworkPolicies known, as of the last sync.", [{ value: this.policies }]);
    out.family("weft_policy_isolated_pods", "gauge", "This node's pods isolated by policy, by direction, as of the last sync.", [
      { labels: { direction: "ingress" }, value: this.isolated.ingress },
      { labels: { direction: "egress" }, value: this.isolated.egress },
    ]);
    if (this.lastSyncAt !== null) out.family("weft_policy_last_sync_timestamp_seconds", "gauge", "When the last successful sync finished, in seconds since the epoch.", [{ value: this.lastSyncAt / 1000 }]);
    return out;
  }
}
