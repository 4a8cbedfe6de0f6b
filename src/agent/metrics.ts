/**
 * The agent's `/metrics` body in the Prometheus text exposition format 0.0.4:
 * every family has a HELP and a TYPE line, label values are escaped, and a
 * gauge that has no value yet (no lease, no IPAM data) is left out rather
 * than reported as 0, so an alert on it cannot fire on a false reading.
 */
import type { AgentStatus } from "./status.ts";
import type { IpamUsage } from "./ipam-usage.ts";

/** The content type a scraper expects for this format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Upper bounds (seconds) of the reconcile duration histogram: 5 ms to 10 s. */
export const RECONCILE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

type Labels = Record<string, string>;
type Sample = { suffix?: string; labels?: Labels; value: number };

/**
 * Renders the metrics for `status`; `ipam` is the node subnet's usage, or
 * null when it is not known (no subnet leased, or the store unreadable), in
 * which case the IPAM families are left out.
 */
export function renderMetrics(status: AgentStatus, ipam: IpamUsage | null): string {
  const out: string[] = [];
  const family = (name: string, type: "gauge" | "counter" | "histogram", help: string, samples: Sample[]) => {
    if (samples.length === 0) return;
    out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    for (const s of samples) out.push(`${name}${s.suffix ?? ""}${formatLabels(s.labels)} ${s.value}`);
  };
  const count = (state: string) => status.peers.filter((p) => p.state === state).length;

  family("weft_ready", "gauge", "1 when the agent holds its lease, has set up its backend and written the subnet file.", [{ value: status.ready ? 1 : 0 }]);
  family("weft_peers", "gauge", "Other nodes this agent knows, by state.", [
    { labels: { state: "programmed" }, value: count("programmed") },
    { labels: { state: "problem" }, value: count("problem") },
  ]);
  family(
    "weft_peer_info",
    "gauge",
    "One series per other node, always 1.",
    status.peers.map((p) => ({ labels: { node: p.node, public_ip: p.publicIp, subnet: p.subnet, backend: p.backend }, value: 1 })),
  );
  family(
    "weft_lease_expiry_timestamp_seconds",
    "gauge",
    "When this node's subnet lease runs out, in seconds since the epoch.",
    status.leaseExpiresAt === null ? [] : [{ value: status.leaseExpiresAt / 1000 }],
  );
  family("weft_store_healthy", "gauge", "1 when the last call to the lease store succeeded.", [{ value: status.store.healthy ? 1 : 0 }]);
  family("weft_reconcile_total", "counter", "Reconciles run since the agent started.", [{ value: status.reconcile.runs }]);
  family("weft_reconcile_failures_total", "counter", "Reconciles that failed as a whole.", [{ value: status.reconcile.failures }]);
  family("weft_reconcile_problems_total", "counter", "Peer problems reported, summed over every reconcile.", [{ value: status.reconcile.problems }]);
  family("weft_reconcile_duration_seconds", "histogram", "How long reconciles took.", histogram(status.reconcile.durationsSeconds));
  if (ipam) {
    family("weft_ipam_addresses", "gauge", "Pod addresses in this node's subnet, by state.", [
      { labels: { state: "used" }, value: ipam.used },
      { labels: { state: "free" }, value: ipam.free },
    ]);
    family("weft_ipam_capacity", "gauge", "Pod addresses this node's subnet can hand out.", [{ value: ipam.capacity }]);
  }
  return out.join("\n") + "\n";
}

/** Cumulative buckets, `_sum` and `_count` for `values`. */
function histogram(values: readonly number[]): Sample[] {
  const buckets = RECONCILE_BUCKETS.map((le) => ({ suffix: "_bucket", labels: { le: String(le) }, value: values.filter((v) => v <= le).length }));
  return [
    ...buckets,
    { suffix: "_bucket", labels: { le: "+Inf" }, value: values.length },
    { suffix: "_sum", value: values.reduce((a, b) => a + b, 0) },
    { suffix: "_count", value: values.length },
  ];
}

function formatLabels(labels: Labels | undefined): string {
  if (!labels) return "";
  return `{${Object.entries(labels)
    .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
    .join(",")}}`;
}

/** Escapes a label value: backslash, double quote and line feed. */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
