/**
 * The service proxy's metrics, cumulative from start (rules:
 * metrics/exposition.ts), observed inside the sync loop.
 */
import { Exposition } from "../metrics/exposition.ts";
import { Histogram } from "../metrics/histogram.ts";

/** Sync duration bounds in seconds: 1 ms to 30 s. */
export const SYNC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;
/** Network programming latency bounds in seconds: 10 ms to 5 min. */
export const PROGRAMMING_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300] as const;

export type SyncKind = "full" | "partial";

export class ProxyMetrics {
  readonly syncDuration = new Histogram(SYNC_BUCKETS);
  readonly programming = new Histogram(PROGRAMMING_BUCKETS);
  readonly syncs: Record<SyncKind, number> = { full: 0, partial: 0 };
  failures = 0;
  staleFlowsDeleted = 0;
  /** Gauges, as of the last successful sync. */
  services = 0;
  servicePorts = 0;
  endpoints = 0;
  lastSyncAt: number | null = null;

  render(out = new Exposition()): Exposition {
    out.histogram("weft_proxy_sync_duration_seconds", "How long a service proxy sync took (plan, diff and nft transaction).", this.syncDuration.snapshot());
    out.family("weft_proxy_syncs_total", "counter", "Service proxy syncs applied, by kind: full (every chain and map rewritten) or partial (only what changed).", [
      { labels: { kind: "full" }, value: this.syncs.full },
      { labels: { kind: "partial" }, value: this.syncs.partial },
    ]);
    out.family("weft_proxy_sync_failures_total", "counter", "Service proxy syncs that failed and were retried.", [{ value: this.failures }]);
    out.family("weft_proxy_programmed_services", "gauge", "Services with rules in table ip weft-proxy.", [{ value: this.services }]);
    out.family("weft_proxy_programmed_service_ports", "gauge", "Service ports with rules in table ip weft-proxy.", [{ value: this.servicePorts }]);
    out.family("weft_proxy_programmed_endpoints", "gauge", "Endpoints (per service port) with a chain in table ip weft-proxy.", [{ value: this.endpoints }]);
    out.histogram(
      "weft_proxy_network_programming_duration_seconds",
      "From an EndpointSlice's change (its last-change-trigger-time, or its arrival) to its rules being in the kernel.",
      this.programming.snapshot(),
    );
    out.family("weft_proxy_stale_udp_flows_deleted_total", "counter", "UDP conntrack entries deleted because their backend went or they were black-holed.", [{ value: this.staleFlowsDeleted }]);
    if (this.lastSyncAt !== null) out.family("weft_proxy_last_sync_timestamp_seconds", "gauge", "When the last successful sync finished, in seconds since the epoch.", [{ value: this.lastSyncAt / 1000 }]);
    return out;
  }
}
