/**
 * How long the API server took to serve the requests a pod's start-up is
 * made of, from its own metrics (`apiserver_request_duration_seconds`, the
 * time from the request's arrival to its answer, a histogram per verb,
 * resource and subresource): two scrapes of /metrics, before and after a
 * burst, and the difference between them. A pod's path from creation to
 * Running is a chain of such requests (the ReplicaSet controller's create,
 * the scheduler's binding, the kubelet's TokenRequest and status patch), so
 * their server-side time under the burst is most of that path: on a
 * machine whose cores are all busy, a request waits for the CPU at every
 * step (its handler, etcd, the answer) far longer than it computes.
 */

/** A request kind: "VERB resource[/subresource]", e.g. "PATCH pods/status"; every API group's resource of that name together. */
export type RequestKind = string;

/** One request kind's durations as the API server counts them from its start. */
export interface RequestHistogram {
  /** The sum of the durations, in seconds. */
  sum: number;
  /** How many requests. */
  count: number;
  /** Cumulative counts by upper bound in seconds (Infinity for "+Inf"). */
  buckets: Map<number, number>;
}

/** One sample line of the histogram: its suffix, its labels, its value. */
const DURATION_SAMPLE = /^apiserver_request_duration_seconds_(sum|count|bucket)\{([^}]*)\} (\S+)$/;

/** The histograms of a /metrics text (Prometheus text format), by request kind. */
export function parseRequestDurations(metrics: string): Map<RequestKind, RequestHistogram> {
  const out = new Map<RequestKind, RequestHistogram>();
  for (const line of metrics.split("\n")) {
    const m = DURATION_SAMPLE.exec(line);
    if (!m) continue;
    const labels = new Map(Array.from(m[2]!.matchAll(/(\w+)="([^"]*)"/g), (l) => [l[1]!, l[2]!]));
    const resource = labels.get("resource");
    if (!resource) continue;
    const sub = labels.get("subresource");
    const kind = `${labels.get("verb")} ${resource}${sub ? `/${sub}` : ""}`;
    let h = out.get(kind);
    if (!h) out.set(kind, (h = { sum: 0, count: 0, buckets: new Map() }));
    const value = Number(m[3]);
    // Series that differ in other labels (group, version, scope, component, dry_run) add up.
    if (m[1] === "sum") h.sum += value;
    else if (m[1] === "count") h.count += value;
    else {
      const le = labels.get("le") === "+Inf" ? Infinity : Number(labels.get("le"));
      h.buckets.set(le, (h.buckets.get(le) ?? 0) + value);
    }
  }
  return out;
}

/** What one request kind did between two scrapes. */
export interface RequestLatency {
  kind: RequestKind;
  /** Requests served between the scrapes. */
  count: number;
  /** Their mean duration, in ms. */
  meanMs: number;
  /** The least bucket bound at or under which 90% of them fall, in ms; Infinity when 10% took longer than the last finite bound. */
  p90BoundMs: number;
  /** The histogram's last finite bound, in ms. */
  lastBoundMs: number;
}

/** The requests of `kinds` served between scrape `before` and scrape `after`; a kind with none is left out. */
export function latencyBetween(before: Map<RequestKind, RequestHistogram>, after: Map<RequestKind, RequestHistogram>, kinds: readonly RequestKind[]): RequestLatency[] {
  const out: RequestLatency[] = [];
  for (const kind of kinds) {
    const a = after.get(kind);
    const b = before.get(kind);
    const count = (a?.count ?? 0) - (b?.count ?? 0);
    if (!a || count <= 0) continue;
    const sum = a.sum - (b?.sum ?? 0);
    const bounds = [...a.buckets.keys()].sort((x, y) => x - y);
    let p90BoundMs = Infinity;
    for (const le of bounds) {
      if ((a.buckets.get(le) ?? 0) - (b?.buckets.get(le) ?? 0) >= 0.9 * count) {
        p90BoundMs = le * 1000;
        break;
      }
    }
    const finite = bounds.filter((le) => Number.isFinite(le));
    out.push({ kind, count, meanMs: (sum / count) * 1000, p90BoundMs, lastBoundMs: (finite.at(-1) ?? 0) * 1000 });
  }
  return out;
}
