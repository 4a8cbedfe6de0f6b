/**
 * The agent's `/metrics` body (format and rules: metrics/exposition.ts).
 * Counters and the reconcile histogram are cumulative from the agent's
 * start; gauges are read from the status at scrape time.
 */
import { Exposition, METRICS_CONTENT_TYPE } from "../metrics/exposition.ts";
import type { AgentStatus } from "./status.ts";
import type { IpamUsage } from "./ipam-usage.ts";

export { METRICS_CONTENT_TYPE };

/** Upper bounds (seconds) of the reconcile duration histogram: 5 ms to 10 s. */
export const RECONCILE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/**
 * Renders the metrics for `status`; `ipam` is the node subnet's usage, or
 * null when it is not known (no subnet leased, or the store unreadable), in
 * which case the IPAM families are left out.
 */
export function renderMetrics(status: AgentStatus, ipam: IpamUsage | null): string {
  const out = new Exposition();
  const count = (state: string) => status.peers.filter((p) => p.state === state).length;

  out.family("weft_ready", "gauge", "1 when the agent holds its lease, has set up its backend and written the subnet file.", [{ value: status.ready ? 1 : 0 }]);
  out.family("weft_peers", "gauge", "Other nodes this agent knows, by state.", [
    { labels: { state: "programmed" }, value: count("programmed") },
    { labels: { state: "problem" }, value: count("problem") },
  ]);
  out.family(
    "weft_peer_info",
    "gauge",
    "One series per other node, always 1.",
    status.peers.map((p) => ({ labels: { node: p.node, public_ip: p.publicIp, subnet: p.subnet, backend: p.backend }, value: 1 })),
  );
  out.family(
    "weft_lease_expiry_timestamp_seconds",
    "gauge",
    "When this node's subnet lease runs out, in seconds since the epoch.",
    status.leaseExpiresAt === null ? [] : [{ value: status.leaseExpiresAt / 1000 }],
  );
  out.family("weft_store_healthy", "gauge", "1 when the last call to the lease store succeeded.", [{ value: status.store.healthy ? 1 : 0 }]);
  out.family("weft_reconcile_total", "counter", "Reconciles run since the agent started.", [{ value: status.reconcile.runs }]);
  out.family("weft_reconcile_failures_total", "counter", "Reconciles that failed as a whole.", [{ value: status.reconcile.failures }]);
  out.family("weft_reconcile_problems_total", "counter", "Peer problems reported, summed over every reconcile.", [{ value: status.reconcile.problems }]);
  out.histogram("weft_reconcile_duration_seconds", "How long reconciles took.", status.reconcile.duration);
  if (ipam) {
    out.family("weft_ipam_addresses", "gauge", "Pod addresses in this node's subnet, by state.", [
      { labels: { state: "used" }, value: ipam.used },
      { labels: { state: "free" }, value: ipam.free },
    ]);
    out.family("weft_ipam_capacity", "gauge", "Pod addresses this node's subnet can hand out.", [{ value: ipam.capacity }]);
  }
  return out.text();
}
