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

/** One request kind's histogram: the sum of durations (s), the count, and cumulative counts per upper bound (s). */
interface Histogram {
  sum: number;
  count: number;
  buckets: Map<number, number>;
}

/** A request kind: "VERB resource[/subresource]". */
export type RequestKind = string;

const LINE = /^apiserver_request_duration_seconds_(sum|count|bucket)\{([^}]*)\} (\S+)$/;

/** The histograms of a /metrics text, by request kind. */
export function parseRequestDurations(metrics: string): Map<RequestKind, Histogram> {
  const out = new Map<RequestKind, Histogram>();
  for (const line of metrics.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    const labels = new Map(Array.from(m[2]!.matchAll(/(\w+)="([^"]*)"/g), (l) => [l[1]!, l[2]!]));
    const resource = labels.get("resource");
    if (!resource) continue;
    const sub = labels.get("subresource");
    const kind = `${labels.get("verb")} ${resource}${sub ? `/${sub}` : ""}`;
    let h = out.get(kind);
    if (!h) out.set(kind, (h = { sum: 0, count: 0, buckets: new Map() }));
    const value = Number(m[3]);
    // Series that differ in other labels (group, version, scope, component) add up.
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
  count: number;
  meanMs: number;
  /** The histogram's bucket bound that holds the 90th percentile, in ms (Infinity past the last bound). */
  p90BoundMs: number;
}

/** The requests of `kinds` served between scrape `before` and scrape `after`; a kind with none is left out. */
export function latencyBetween(before: Map<RequestKind, Histogram>, after: Map<RequestKind, Histogram>, kinds: readonly RequestKind[]): RequestLatency[] {
  const out: RequestLatency[] = [];
  for (const kind of kinds) {
    const a = after.get(kind);
    const b = before.get(kind);
    const count = (a?.count ?? 0) - (b?.count ?? 0);
    if (!a || count <= 0) continue;
    const sum = a.sum - (b?.sum ?? 0);
    let p90BoundMs = Infinity;
    for (const le of [...a.buckets.keys()].sort((x, y) => x - y)) {
      if ((a.buckets.get(le) ?? 0) - (b?.buckets.get(le) ?? 0) >= 0.9 * count) {
        p90BoundMs = le * 1000;
        break;
      }
    }
    out.push({ kind, count, meanMs: (sum / count) * 1000, p90BoundMs });
  }
  return out;
}
