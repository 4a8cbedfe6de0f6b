/**
 * Names outside the cluster: forwarding to a fake upstream on loopback,
 * the answer cache (TTLs, negative caching by the SOA, the size bound),
 * TCP after a truncated UDP answer, failing over from a silent upstream,
 * SERVFAIL by the deadline when no upstream answers, and static hosts entries.
 */
import { after, before, test } from "node:test";
import { createSocket } from "node:dgram";
import assert from "node:assert/strict";
import type { Answer } from "dns-packet";
import { parseDnsConfig } from "./config.ts";
import { FakeSource } from "./fake-source.ts";
import { DnsServer } from "./server.ts";
import { ask, sampleCluster, sections, service, startFakeUpstream, type FakeUpstream } from "./testing.ts";
import { until } from "../../test/support/until.ts";

const soa = (zone: string, ttl: number, minimum: number): Answer => ({
  name: zone, type: "SOA", class: "IN", ttl,
  data: { mname: `ns.${zone}`, rname: `hostmaster.${zone}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum },
});

let upstream: FakeUpstream;
let silent: FakeUpstream;
let server: DnsServer;

before(async () => {
  upstream = await startFakeUpstream((name, type) => {
    const n = name.toLowerCase();
    if (n === "www.example.org" && type === "A") return { answers: [{ name, type: "A", class: "IN", ttl: 300, data: "192.0.2.10" }] };
    if (n === "short.example.org" && type === "A") return { answers: [{ name, type: "A", class: "IN", ttl: 1, data: "192.0.2.11" }] };
    if (n === "big.example.org" && type === "TXT") {
      return { truncateOverUdp: true, answers: Array.from({ length: 30 }, (_, i) => ({ name, type: "TXT", class: "IN", ttl: 60, data: `record ${i} ${"x".repeat(40)}` }) as Answer) };
    }
    if (n === "www.example.org") return { authorities: [soa("example.org", 3600, 60)] }; // NODATA
    if (n === "nosoa.example.org") return { rcode: "NXDOMAIN" };
    if (n === "broken.example.org") return { rcode: "SERVFAIL" };
    return { rcode: "NXDOMAIN", authorities: [soa("example.org", 3600, 60)] };
  });
  silent = await startFakeUpstream(() => "drop");
  const config = parseDnsConfig(
    [
      "port: 0", "httpPort: 0", "listen: 127.0.0.1",
      `upstreams: ["127.0.0.1:${silent.port}", "127.0.0.1:${upstream.port}"]`,
      "cacheSize: 3",
      "hosts: |",
      "  # seed 003's /etc/hosts example",
      "  192.168.125.1 outside outside.lab",
      "  fd00::1 outside",
    ].join("\n"),
    "test config",
  );
  server = new DnsServer(config, new FakeSource(sampleCluster()), { log: () => {}, upstreamTimeoutMs: 150 });
  await server.start();
});

after(async () => {
  await server?.close();
  await upstream?.close();
  await silent?.close();
});

const asked = (name: string) => upstream.asked.filter((q) => q.toLowerCase() === name.toLowerCase()).length;

test("a forwarded answer is cached for its TTL: asked upstream once, then answered with the TTL counting down", async () => {
  const first = await ask(server.port, "www.example.org", "A");
  assert.deepEqual(sections(first.packet).answer, ["www.example.org 300 A 192.0.2.10"]);
  assert.equal(first.packet.flag_aa, false);
  assert.equal(asked("www.example.org A"), 1);
  await new Promise((r) => setTimeout(r, 1100));
  const second = await ask(server.port, "www.example.org", "A");
  assert.equal(asked("www.example.org A"), 1);
  const ttl = (second.packet.answers![0] as { ttl: number }).ttl;
  assert.ok(ttl === 299 || ttl === 298, `ttl ${ttl}`);
});

test("an answer whose TTL ran out is asked again", async () => {
  await ask(server.port, "short.example.org", "A");
  await new Promise((r) => setTimeout(r, 1100));
  await ask(server.port, "short.example.org", "A");
  assert.equal(asked("short.example.org A"), 2);
});

test("the cache echoes each query's case", async () => {
  const r = await ask(server.port, "WwW.ExAmPlE.oRg", "A");
  assert.match(sections(r.packet).answer.join("\n"), /^WwW\.ExAmPlE\.oRg 29\d A 192\.0\.2\.10$/);
  assert.equal(r.packet.questions![0]!.name, "WwW.ExAmPlE.oRg");
});

test("NXDOMAIN and NODATA are cached for the SOA's negative TTL; without a SOA they are not cached", async () => {
  for (let i = 0; i < 2; i++) {
    const nx = await ask(server.port, "gone.example.org", "A");
    assert.equal(nx.rcode, "NXDOMAIN");
    assert.deepEqual(sections(nx.packet).authority, ["example.org 3600 SOA ns.example.org hostmaster.example.org 60"]);
    const nodata = await ask(server.port, "www.example.org", "AAAA");
    assert.equal(nodata.rcode, "NOERROR");
    assert.deepEqual(sections(nodata.packet).answer, []);
    assert.equal((await ask(server.port, "nosoa.example.org", "A")).rcode, "NXDOMAIN");
  }
  assert.equal(asked("gone.example.org A"), 1);
  assert.equal(asked("www.example.org AAAA"), 1);
  assert.equal(asked("nosoa.example.org A"), 2);
});

test("the cache holds at most cacheSize answers, dropping the least recently used", async () => {
  for (const n of ["c1", "c2", "c3", "c4"]) await ask(server.port, `${n}.example.org`, "A");
  const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  assert.match(metrics, /^weft_dns_cache_entries 3$/m);
  // The encoded answer of an evicted entry is not reused either (handler.ts).
  await ask(server.port, "c1.example.org", "A"); // evicted: asked again
  await ask(server.port, "c4.example.org", "A"); // kept
  assert.equal(asked("c1.example.org A"), 2);
  assert.equal(asked("c4.example.org A"), 1);
});

test("a reused answer counts as a use of its cache entry, and counts its negative TTL down too", async () => {
  for (const n of ["d1", "d2", "d3"]) await ask(server.port, `${n}.example.org`, "A");
  await new Promise((r) => setTimeout(r, 1100));
  const hits = server.metrics.cacheHits;
  const again = await ask(server.port, "d1.example.org", "A"); // the reused answer: d1 becomes the most recently used
  assert.equal(again.rcode, "NXDOMAIN");
  assert.equal(server.metrics.cacheHits, hits + 1, "a reused forwarded answer counts as a cache hit");
  const soaTtl = (again.packet.authorities![0] as { ttl: number }).ttl;
  assert.ok(soaTtl === 3599 || soaTtl === 3598, `SOA ttl ${soaTtl}`);
  await ask(server.port, "d4.example.org", "A"); // evicts d2, not d1
  await ask(server.port, "d1.example.org", "A");
  await ask(server.port, "d2.example.org", "A");
  assert.equal(asked("d1.example.org A"), 1);
  assert.equal(asked("d2.example.org A"), 2);
});

test("a truncated UDP answer from upstream is asked again over TCP, and the client gets TC or all of it", async () => {
  const udp = await ask(server.port, "big.example.org", "TXT");
  assert.equal(udp.packet.flag_tc, true);
  const tcp = await ask(server.port, "big.example.org", "TXT", { tcp: true });
  assert.equal((tcp.packet.answers ?? []).length, 30);
  assert.ok(upstream.asked.filter((q) => q === "big.example.org TXT").length >= 2, "UDP, then TCP");
});

test("a silent upstream is skipped after its timeout, and counted; SERVFAIL upstream everywhere is SERVFAIL", async () => {
  assert.ok(silent.asked.length > 0);
  assert.equal((await ask(server.port, "broken.example.org", "A")).rcode, "SERVFAIL");
  const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  assert.match(metrics, new RegExp(`^weft_dns_upstream_errors_total\\{upstream="127.0.0.1:${silent.port}",reason="timeout"\\} [1-9]`, "m"));
  assert.match(metrics, new RegExp(`^weft_dns_upstream_errors_total\\{upstream="127.0.0.1:${upstream.port}",reason="servfail"\\} [1-9]`, "m"));
});

test("static hosts entries answer A, AAAA and PTR without asking upstream, case-insensitively, even before the cluster is listed", async () => {
  const unsynced = new DnsServer(parseDnsConfig("port: 0\nhttpPort: 0\nlisten: 127.0.0.1\nupstreams: []\nhosts: 192.168.125.1 outside", "t"), new FakeSource({}, false), { log: () => {} });
  await unsynced.start();
  try {
    assert.deepEqual(sections((await ask(unsynced.port, "1.125.168.192.in-addr.arpa", "PTR")).packet).answer, ["1.125.168.192.in-addr.arpa 5 PTR outside"]);
    assert.equal((await ask(unsynced.port, "kube-dns.kube-system.svc.cluster.local", "A")).rcode, "SERVFAIL");
  } finally {
    await unsynced.close();
  }
  const before = upstream.asked.length;
  assert.deepEqual(sections((await ask(server.port, "Outside", "A")).packet).answer, ["Outside 5 A 192.168.125.1"]);
  assert.deepEqual(sections((await ask(server.port, "outside", "AAAA")).packet).answer, ["outside 5 AAAA fd00::1"]);
  assert.deepEqual(sections((await ask(server.port, "outside.lab", "A")).packet).answer, ["outside.lab 5 A 192.168.125.1"]);
  assert.deepEqual(sections((await ask(server.port, "1.125.168.192.in-addr.arpa", "PTR")).packet).answer, ["1.125.168.192.in-addr.arpa 5 PTR outside"]);
  assert.equal(upstream.asked.length, before);
});

test("questions leave from several source ports, not one (a spoofed answer must guess the port too)", async () => {
  for (let i = 0; i < 24; i++) await ask(server.port, `port-${i}.example.org`, "A");
  assert.ok(upstream.sourcePorts.size >= 3, `${upstream.sourcePorts.size} source ports`);
});

test("a reverse name of no cluster address is forwarded (as CoreDNS's fallthrough)", async () => {
  const r = await ask(server.port, "9.9.9.10.in-addr.arpa", "PTR");
  assert.equal(r.rcode, "NXDOMAIN");
  assert.equal(asked("9.9.9.10.in-addr.arpa PTR"), 1);
});

test("a reverse name forwarded and cached is answered by the zone once a Service takes its address", async () => {
  const source = new FakeSource(sampleCluster());
  const s = new DnsServer(parseDnsConfig(`port: 0\nhttpPort: 0\nlisten: 127.0.0.1\nupstreams: ["127.0.0.1:${upstream.port}"]`, "t"), source, { log: () => {} });
  await s.start();
  try {
    for (let i = 0; i < 2; i++) assert.equal((await ask(s.port, "77.0.96.10.in-addr.arpa", "PTR")).rcode, "NXDOMAIN"); // forwarded, then reused
    assert.equal(asked("77.0.96.10.in-addr.arpa PTR"), 1);
    source.putService(service("default", "late-ptr", ["10.96.0.77"], ["http/80/TCP"]));
    await until("the PTR from the zone", async () => sections((await ask(s.port, "77.0.96.10.in-addr.arpa", "PTR")).packet).answer.join() === "77.0.96.10.in-addr.arpa 5 PTR late-ptr.default.svc.cluster.local", 1000, 20);
  } finally {
    await s.close();
  }
});

/** A loopback UDP port nobody listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test("upstreams all silent or unreachable: SERVFAIL at the deadline, silent ones asked again meanwhile", async () => {
  const dead = await closedPort();
  const s = new DnsServer(parseDnsConfig(`port: 0\nhttpPort: 0\nlisten: 127.0.0.1\nupstreams: ["127.0.0.1:${silent.port}", "127.0.0.1:${dead}"]`, "t"), new FakeSource(sampleCluster()), {
    log: () => {}, upstreamTimeoutMs: 150, forwardDeadlineMs: 600,
  });
  await s.start();
  try {
    const t0 = performance.now();
    const r = await ask(s.port, "unreachable.example.org", "A", { timeoutMs: 2000 });
    const ms = performance.now() - t0;
    assert.equal(r.rcode, "SERVFAIL");
    assert.ok(ms >= 550 && ms < 1200, `SERVFAIL after ${ms.toFixed(0)} ms; the deadline is 600 ms`);
    assert.equal(silent.asked.filter((q) => q === "unreachable.example.org A").length, 2, "asked again on the second pass, not a third time past the deadline");
    const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
    assert.match(metrics, new RegExp(`^weft_dns_upstream_errors_total\\{upstream="127.0.0.1:${dead}",reason="timeout"\\} 2$`, "m"));
    assert.match(metrics, /^weft_dns_requests_total\{proto="udp",type="A",rcode="SERVFAIL"\} 1$/m);
  } finally {
    await s.close();
  }
});

test("with the default timeouts, three silent upstreams are SERVFAIL within 4 s, before a stub resolver's 5 s timeout", async () => {
  const upstreams = [silent.port, await closedPort(), await closedPort()].map((p) => `"127.0.0.1:${p}"`).join(", ");
  const s = new DnsServer(parseDnsConfig(`port: 0\nhttpPort: 0\nlisten: 127.0.0.1\nupstreams: [${upstreams}]`, "t"), new FakeSource(sampleCluster()), { log: () => {} });
  await s.start();
  try {
    const t0 = performance.now();
    const r = await ask(s.port, "nobody.example.org", "A", { timeoutMs: 5000 });
    const ms = performance.now() - t0;
    assert.equal(r.rcode, "SERVFAIL");
    assert.ok(ms >= 3900 && ms < 4600, `SERVFAIL after ${ms.toFixed(0)} ms`);
  } finally {
    await s.close();
  }
});

test("closing the server while a question waits on upstreams drops it quietly (no send on the closed socket)", async () => {
  const s = new DnsServer(parseDnsConfig(`port: 0\nhttpPort: 0\nlisten: 127.0.0.1\nupstreams: ["127.0.0.1:${silent.port}"]`, "t"), new FakeSource(sampleCluster()), { log: () => {} });
  await s.start();
  const waiting = ask(s.port, "closing.example.org", "A", { timeoutMs: 300 }).then(() => "answered", () => "no answer");
  await until("the question upstream", () => silent.asked.includes("closing.example.org A"), 2000, 5);
  await s.close();
  assert.equal(await waiting, "no answer");
});
