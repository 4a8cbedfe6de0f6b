/**
 * bench/dns-wire: what one query costs weft dns in JavaScript, without
 * sockets, on the 1,000-Service zone of bench/dns-cluster.ts. It backs two
 * choices in src/dns: queries are read by the hand-written parser
 * (wire.ts) rather than dns-packet's decode, and answers are reused from
 * the response memo (handler.ts) rather than looked up and encoded with
 * dns-packet each time; a forwarded answer's memo hit (which also touches
 * its cache entry) is timed beside the cluster answer's.
 */
import * as packet from "dns-packet";
import { parseDnsConfig } from "../src/dns/config.ts";
import { FakeSource } from "../src/dns/fake-source.ts";
import { Forwarder } from "../src/dns/forward.ts";
import { DnsHandler } from "../src/dns/handler.ts";
import { lookupZone } from "../src/dns/lookup.ts";
import { DnsMetrics } from "../src/dns/metrics.ts";
import { encodeResponse, parseQuery, quickQuestion, type Query } from "../src/dns/wire.ts";
import { benchSnapshot } from "./dns-cluster.ts";
import { printTable } from "./stats.ts";

/** µs per call of `fn`: the fastest of 5 batches of `n` calls (the least disturbed by other work on the machine). */
function time(n: number, fn: () => unknown): number {
  for (let i = 0; i < n / 10; i++) fn();
  let best = Infinity;
  for (let batch = 0; batch < 5; batch++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n / 1000);
  }
  return best;
}

export async function benchDnsWire(): Promise<void> {
  // A query as dig sends it: EDNS0 with a cookie option.
  const msg = packet.encode({
    type: "query", id: 1, flags: packet.RECURSION_DESIRED,
    questions: [{ name: "svc-5.ns-5.svc.cluster.local", type: "A" }],
    additionals: [{ type: "OPT", name: ".", udpPayloadSize: 1232, flags: 0, options: [{ code: 10, data: Buffer.alloc(8) }] } as never],
  });
  const handler = new DnsHandler(parseDnsConfig("upstreams: []", "bench"), new FakeSource(benchSnapshot()), new Forwarder([]), new DnsMetrics());
  await handler.handle(msg, false); // memoizes the answer
  const q = parseQuery(msg) as Query;
  const zone = lookupZone(handler.zone, q.name, "A")!;
  const parts = { rcode: 0, aa: true, answers: zone.answers, authorities: zone.authorities, additionals: zone.additionals };
  // A forwarded name, answered from the cache once and then from the memo (its cache entry touched per query).
  const fwd = packet.encode({ type: "query", id: 2, flags: packet.RECURSION_DESIRED, questions: [{ name: "host-1.example.test", type: "A" }] });
  handler.cache.put("A IN host-1.example.test", { rcode: 0, answers: [{ name: "host-1.example.test", type: "A", class: "IN", ttl: 3600, data: "198.18.0.1" }], authorities: [], additionals: [] });
  await handler.handle(fwd, false);
  const N = 100_000;
  const rows = [
    ["step", "µs per query"],
    ["dns-packet decode of the query", time(N, () => packet.decode(msg)).toFixed(2)],
    ["parseQuery (hand-written, full)", time(N, () => parseQuery(msg)).toFixed(2)],
    ["quickQuestion (memo key only)", time(N, () => quickQuestion(msg)).toFixed(2)],
    ["lookupZone", time(N, () => lookupZone(handler.zone, q.name, "A")).toFixed(2)],
    ["encodeResponse (dns-packet encode)", time(N / 2, () => encodeResponse(q, parts, 1232)).toFixed(2)],
    ["handle, answer memoized (what a query costs)", time(N, () => handler.handle(msg, false)).toFixed(2)],
    ["handle, forwarded answer memoized (cache entry touched)", time(N, () => handler.handle(fwd, false)).toFixed(2)],
  ];
  process.stdout.write("\nbench/dns-wire — JavaScript cost of one cluster A query, no sockets\n");
  printTable(rows);
}

if (import.meta.main) await benchDnsWire();
