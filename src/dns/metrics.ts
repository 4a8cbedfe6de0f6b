/**
 * `weft dns`'s Prometheus metrics, cumulative from start:
 *
 *   weft_dns_requests_total{proto,type,rcode}     answered queries
 *   weft_dns_request_duration_seconds             time from receipt to the answer's send (histogram)
 *   weft_dns_cache_hits_total / _misses_total     forwarded names found / not found in the cache
 *   weft_dns_cache_entries                        answers in the cache now
 *   weft_dns_upstream_errors_total{upstream,reason}  failed tries (timeout, servfail, refused, tcp, send, malformed)
 *   weft_dns_source_synced                        1 once Services, EndpointSlices and Namespaces are listed
 *   weft_dns_zone_names                           names in the cluster zone and its reverse names
 *   weft_dns_zone_rebuild_seconds                 time to rebuild the zone after changes (histogram)
 */
import { Exposition } from "../metrics/exposition.ts";
import { Histogram } from "../metrics/histogram.ts";

/** Rcode names, as the requests metric labels them. */
const RCODE_NAMES: Record<number, string> = { 0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 16: "BADVERS" };

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

export interface DnsGauges {
  synced: boolean;
  cacheEntries: number;
  zoneNames: number;
}

export class DnsMetrics {
  /** `proto type rcode` → count. */
  readonly #requests = new Map<string, number>();
  readonly #latency = new Histogram([0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
  readonly #upstreamErrors = new Map<string, number>();
  readonly #rebuilds = new Histogram([0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
  cacheHits = 0;
  cacheMisses = 0;

  /** Counts one answered query and its latency in seconds. */
  request(proto: "udp" | "tcp", type: string, rcode: number, seconds: number): void {
    const key = `${proto} ${type} ${rcode}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    this.#latency.observe(seconds);
  }

  /** Counts one zone rebuild and its duration in seconds. */
  rebuilt(seconds: number): void {
    this.#rebuilds.observe(seconds);
  }

  upstreamError(upstream: string, reason: string): void {
    const key = `${upstream} ${reason}`;
    this.#upstreamErrors.set(key, (this.#upstreamErrors.get(key) ?? 0) + 1);
  }

  render(g: DnsGauges): string {
    const requests = [...this.#requests].map(([k, value]) => {
      const [proto, type, rcode] = k.split(" ") as [string, string, string];
      return { labels: { proto, type, rcode: rcodeName(Number(rcode)) }, value };
    });
    const errors = [...this.#upstreamErrors].map(([k, value]) => {
      const [upstream, reason] = k.split(" ") as [string, string];
      return { labels: { upstream, reason }, value };
    });
    return new Exposition()
      .family("weft_dns_requests_total", "counter", "DNS queries answered, by transport, query type and response code", requests)
      .histogram("weft_dns_request_duration_seconds", "Time from a query's receipt to its answer's send", this.#latency.snapshot())
      .family("weft_dns_cache_hits_total", "counter", "Forwarded names answered from the cache", [{ value: this.cacheHits }])
      .family("weft_dns_cache_misses_total", "counter", "Forwarded names not in the cache (asked upstream)", [{ value: this.cacheMisses }])
      .family("weft_dns_cache_entries", "gauge", "Answers held in the forwarding cache", [{ value: g.cacheEntries }])
      .family("weft_dns_upstream_errors_total", "counter", "Failed tries of an upstream resolver, by reason", errors)
      .family("weft_dns_source_synced", "gauge", "1 once the cluster objects are listed (before that the cluster zone answers SERVFAIL)", [{ value: g.synced ? 1 : 0 }])
      .family("weft_dns_zone_names", "gauge", "Names with records in the cluster zone and its reverse zones", [{ value: g.zoneNames }])
      .histogram("weft_dns_zone_rebuild_seconds", "Time to rebuild the cluster zone after changes", this.#rebuilds.snapshot())
      .text();
  }
}
