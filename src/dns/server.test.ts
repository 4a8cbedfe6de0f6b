/**
 * weft dns against a real server on port 0 (UDP and TCP on loopback), fed
 * by the in-memory source, with a fake upstream for the names it forwards.
 * The table is the Kubernetes DNS specification 1.1.0 case by case:
 * qname, qtype → rcode, answer, additional, authority.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as packet from "dns-packet";
import { until } from "../../test/support/until.ts";
import { parseDnsConfig, type DnsConfig } from "./config.ts";
import { FakeSource } from "./fake-source.ts";
import { DnsServer } from "./server.ts";
import { rcodeOf } from "./forward.ts";
import { ask, askUdpRaw, sampleCluster, sections, service, startFakeUpstream, type FakeUpstream } from "./testing.ts";

const SOA = "cluster.local 5 SOA ns.dns.cluster.local hostmaster.cluster.local 5";
const KUBE_DNS = "kube-dns.kube-system.svc.cluster.local";

interface Case {
  q: string;
  t: string;
  rcode: string;
  answer?: string[];
  additional?: string[];
  authority?: string[];
  /** Compare answers ignoring order (several records of one name). */
  unordered?: boolean;
}

const CASES: Case[] = [
  // 2.2 schema version
  { q: "dns-version.cluster.local", t: "TXT", rcode: "NOERROR", answer: ['dns-version.cluster.local 5 TXT "1.1.0"'] },
  // 2.3.1 A/AAAA of ClusterIP services; seed 000's first query
  { q: KUBE_DNS, t: "A", rcode: "NOERROR", answer: [`${KUBE_DNS} 5 A 10.96.0.10`] },
  { q: "web.default.svc.cluster.local", t: "A", rcode: "NOERROR", answer: ["web.default.svc.cluster.local 5 A 10.96.0.20"] },
  { q: "dual.default.svc.cluster.local", t: "A", rcode: "NOERROR", answer: ["dual.default.svc.cluster.local 5 A 10.96.0.30"] },
  { q: "dual.default.svc.cluster.local", t: "AAAA", rcode: "NOERROR", answer: ["dual.default.svc.cluster.local 5 AAAA fd00:96::30"] },
  { q: "six.default.svc.cluster.local", t: "AAAA", rcode: "NOERROR", answer: ["six.default.svc.cluster.local 5 AAAA fd00:96::40"] },
  // NODATA with the SOA: AAAA of an IPv4-only service, A of an IPv6-only one, a type no name has
  { q: KUBE_DNS, t: "AAAA", rcode: "NOERROR", answer: [], authority: [SOA] },
  { q: "six.default.svc.cluster.local", t: "A", rcode: "NOERROR", answer: [], authority: [SOA] },
  { q: KUBE_DNS, t: "MX", rcode: "NOERROR", answer: [], authority: [SOA] },
  // case-insensitive, echoing the query's case
  { q: "KuBe-DnS.Kube-System.SVC.Cluster.LOCAL", t: "A", rcode: "NOERROR", answer: ["KuBe-DnS.Kube-System.SVC.Cluster.LOCAL 5 A 10.96.0.10"] },
  // 2.3.2 SRV per named port, the target's A in ADDITIONAL; seed 000's second and third queries
  {
    q: `_dns._udp.${KUBE_DNS}`, t: "SRV", rcode: "NOERROR",
    answer: [`_dns._udp.${KUBE_DNS} 5 SRV 0 100 53 ${KUBE_DNS}`], additional: [`${KUBE_DNS} 5 A 10.96.0.10`],
  },
  {
    q: `_dns-tcp._tcp.${KUBE_DNS}`, t: "SRV", rcode: "NOERROR",
    answer: [`_dns-tcp._tcp.${KUBE_DNS} 5 SRV 0 100 53 ${KUBE_DNS}`], additional: [`${KUBE_DNS} 5 A 10.96.0.10`],
  },
  {
    q: "_HTTP._TCP.dual.default.svc.cluster.local", t: "SRV", rcode: "NOERROR",
    answer: ["_HTTP._TCP.dual.default.svc.cluster.local 5 SRV 0 100 80 dual.default.svc.cluster.local"],
    additional: ["dual.default.svc.cluster.local 5 A 10.96.0.30", "dual.default.svc.cluster.local 5 AAAA fd00:96::30"],
  },
  // a port over the wrong protocol does not exist; the _tcp level above a named port does (NODATA)
  { q: "_http._udp.web.default.svc.cluster.local", t: "SRV", rcode: "NXDOMAIN", answer: [], authority: [SOA] },
  { q: "_tcp.web.default.svc.cluster.local", t: "SRV", rcode: "NOERROR", answer: [], authority: [SOA] },
  // 2.3.3 PTR of service IPs, IPv4 and IPv6
  { q: "10.0.96.10.in-addr.arpa", t: "PTR", rcode: "NOERROR", answer: [`10.0.96.10.in-addr.arpa 5 PTR ${KUBE_DNS}`] },
  {
    q: "0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa", t: "PTR", rcode: "NOERROR",
    answer: ["0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa 5 PTR dual.default.svc.cluster.local"],
  },
  // 2.4.1 headless: every ready endpoint (not the unready 10.244.3.7), per family
  {
    q: "db.default.svc.cluster.local", t: "A", rcode: "NOERROR", unordered: true,
    answer: ["db.default.svc.cluster.local 5 A 10.244.1.5", "db.default.svc.cluster.local 5 A 10.244.2.6"],
  },
  { q: "db.default.svc.cluster.local", t: "AAAA", rcode: "NOERROR", answer: ["db.default.svc.cluster.local 5 AAAA fd00:10:244:1::5"] },
  { q: "db-0.db.default.svc.cluster.local", t: "A", rcode: "NOERROR", answer: ["db-0.db.default.svc.cluster.local 5 A 10.244.1.5"] },
  { q: "db-0.db.default.svc.cluster.local", t: "AAAA", rcode: "NOERROR", answer: ["db-0.db.default.svc.cluster.local 5 AAAA fd00:10:244:1::5"] },
  // an endpoint without hostname is named by its dashed IP
  { q: "10-244-2-6.db.default.svc.cluster.local", t: "A", rcode: "NOERROR", answer: ["10-244-2-6.db.default.svc.cluster.local 5 A 10.244.2.6"] },
  { q: "db-2.db.default.svc.cluster.local", t: "A", rcode: "NXDOMAIN", answer: [], authority: [SOA] },
  // no ready endpoint: NXDOMAIN (2.4.1)
  { q: "starting.default.svc.cluster.local", t: "A", rcode: "NXDOMAIN", answer: [], authority: [SOA] },
  // 2.4.2 SRV per ready endpoint and named port, the endpoints' addresses in ADDITIONAL
  {
    q: "_pg._tcp.db.default.svc.cluster.local", t: "SRV", rcode: "NOERROR", unordered: true,
    answer: [
      "_pg._tcp.db.default.svc.cluster.local 5 SRV 0 50 5432 db-0.db.default.svc.cluster.local",
      "_pg._tcp.db.default.svc.cluster.local 5 SRV 0 50 5432 10-244-2-6.db.default.svc.cluster.local",
    ],
    additional: [
      "db-0.db.default.svc.cluster.local 5 A 10.244.1.5",
      "db-0.db.default.svc.cluster.local 5 AAAA fd00:10:244:1::5",
      "10-244-2-6.db.default.svc.cluster.local 5 A 10.244.2.6",
    ],
  },
  // 2.4.3 PTR of headless endpoints
  { q: "5.1.244.10.in-addr.arpa", t: "PTR", rcode: "NOERROR", answer: ["5.1.244.10.in-addr.arpa 5 PTR db-0.db.default.svc.cluster.local"] },
  // 2.5 ExternalName: the CNAME, and the target's records (forwarded, or from the zone)
  {
    q: "ext.default.svc.cluster.local", t: "A", rcode: "NOERROR",
    answer: ["ext.default.svc.cluster.local 5 CNAME www.example.org", "www.example.org 300 A 192.0.2.10"],
  },
  { q: "ext.default.svc.cluster.local", t: "CNAME", rcode: "NOERROR", answer: ["ext.default.svc.cluster.local 5 CNAME www.example.org"] },
  {
    q: "alias.default.svc.cluster.local", t: "A", rcode: "NOERROR",
    answer: ["alias.default.svc.cluster.local 5 CNAME web.default.svc.cluster.local", "web.default.svc.cluster.local 5 A 10.96.0.20"],
  },
  // NXDOMAIN: no such service, no such namespace; NODATA: names that exist with nothing of the type
  { q: "nope.default.svc.cluster.local", t: "A", rcode: "NXDOMAIN", answer: [], authority: [SOA] },
  { q: "web.nowhere.svc.cluster.local", t: "A", rcode: "NXDOMAIN", answer: [], authority: [SOA] },
  { q: "nowhere.svc.cluster.local", t: "A", rcode: "NXDOMAIN", answer: [], authority: [SOA] },
  { q: "quiet.svc.cluster.local", t: "A", rcode: "NOERROR", answer: [], authority: [SOA] },
  { q: "default.svc.cluster.local", t: "A", rcode: "NOERROR", answer: [], authority: [SOA] },
  { q: "svc.cluster.local", t: "A", rcode: "NOERROR", answer: [], authority: [SOA] },
  { q: "cluster.local", t: "SOA", rcode: "NOERROR", answer: [SOA] },
  { q: "web.default.cluster.local", t: "A", rcode: "NXDOMAIN", answer: [], authority: [SOA] },
  // pod records are off by default
  { q: "10-244-1-20.default.pod.cluster.local", t: "A", rcode: "NXDOMAIN", answer: [], authority: [SOA] },
  // outside the zone: forwarded
  { q: "www.example.org", t: "A", rcode: "NOERROR", answer: ["www.example.org 300 A 192.0.2.10"] },
];

function configWith(upstreamPort: number, extra = ""): DnsConfig {
  return parseDnsConfig(`port: 0\nhttpPort: 0\nlisten: 127.0.0.1\nupstreams: ["127.0.0.1:${upstreamPort}"]\n${extra}`, "test config");
}

let upstream: FakeUpstream;
let server: DnsServer;

before(async () => {
  upstream = await startFakeUpstream((name, type) => {
    if (name.toLowerCase() === "www.example.org" && type === "A") return { answers: [{ name, type: "A", class: "IN", ttl: 300, data: "192.0.2.10" }] };
    return { rcode: "NXDOMAIN" };
  });
  server = new DnsServer(configWith(upstream.port), new FakeSource(sampleCluster()), { log: () => {} });
  await server.start();
});

after(async () => {
  await server?.close();
  await upstream?.close();
});

for (const tcp of [false, true]) {
  describe(`the specification's records over ${tcp ? "TCP" : "UDP"}`, () => {
    for (const c of CASES) {
      test(`${c.q} ${c.t} → ${c.rcode}`, async () => {
        const r = await ask(server.port, c.q, c.t, { tcp });
        const s = sections(r.packet);
        assert.equal(r.rcode, c.rcode);
        const sort = (l: string[]) => (c.unordered ? [...l].sort() : l);
        if (c.answer) assert.deepEqual(sort(s.answer), sort(c.answer));
        assert.deepEqual(sort(s.additional), sort(c.additional ?? []));
        assert.deepEqual(s.authority, c.authority ?? []);
        assert.equal(r.packet.flag_ra, true);
        assert.equal(r.packet.flag_rd, true);
        assert.equal(r.packet.questions?.[0]?.name, c.q);
        if (c.q.toLowerCase().endsWith("cluster.local")) assert.equal(r.packet.flag_aa, true);
      });
    }
  });
}

describe("the wire: EDNS0, truncation, malformed queries", () => {
  let big: DnsServer;
  const BIG = "big.default.svc.cluster.local";
  before(async () => {
    const cluster = sampleCluster();
    const endpoints = Array.from({ length: 60 }, (_, i) => ({
      addresses: [`10.244.9.${i + 1}`], ready: true, serving: true, terminating: false, hostname: null, nodeName: "node1",
    }));
    const four = Array.from({ length: 4 }, (_, i) => ({
      addresses: [`10.244.8.${i + 1}`], ready: true, serving: true, terminating: false, hostname: `four-${i}`, nodeName: "node1",
    }));
    big = new DnsServer(configWith(upstream.port), new FakeSource({
      ...cluster,
      services: [
        ...cluster.services,
        { ...service("default", "big", [], []), headless: true },
        { ...service("default", "four", [], ["p/7000/TCP"]), headless: true },
      ],
      endpointSlices: [
        ...cluster.endpointSlices,
        { namespace: "default", name: "big-1", service: "big", addressType: "IPv4", ports: [], endpoints },
        { namespace: "default", name: "four-1", service: "four", addressType: "IPv4", ports: [{ name: "p", port: 7000, protocol: "TCP" }], endpoints: four },
      ],
    }), { log: () => {} });
    await big.start();
  });
  after(() => big.close());

  test("without EDNS0 a UDP answer is at most 512 bytes, truncated with TC; TCP carries all of it", async () => {
    const udp = await ask(big.port, BIG, "A");
    assert.equal(udp.packet.flag_tc, true);
    assert.ok(udp.size <= 512, `${udp.size} bytes`);
    assert.ok((udp.packet.answers ?? []).length < 60);
    const tcp = await ask(big.port, BIG, "A", { tcp: true });
    assert.equal(tcp.packet.flag_tc, false);
    assert.equal((tcp.packet.answers ?? []).length, 60);
  });

  test("with EDNS0 the client's buffer size is the limit, and the answer carries our OPT record", async () => {
    const small = await ask(big.port, BIG, "A", { udpSize: 1232 });
    assert.equal(small.packet.flag_tc, true);
    assert.ok(small.size <= 1232 && small.size > 512, `${small.size} bytes`);
    const large = await ask(big.port, BIG, "A", { udpSize: 4096 });
    assert.equal(large.packet.flag_tc, false);
    assert.equal((large.packet.answers ?? []).length, 60);
    const opt = (large.packet.additionals ?? []).find((a) => a.type === "OPT") as { udpPayloadSize: number } | undefined;
    assert.equal(opt?.udpPayloadSize, 1232);
    // A buffer size under 512 counts as 512 (RFC 6891 6.2.5).
    const tiny = await ask(big.port, BIG, "A", { udpSize: 100 });
    assert.ok(tiny.size <= 512 && tiny.size > 400, `${tiny.size} bytes`);
  });

  test("an answer too big only for its ADDITIONAL section drops it without TC (RFC 2181 9)", async () => {
    const name = "_p._tcp.four.default.svc.cluster.local";
    const udp = await ask(big.port, name, "SRV");
    assert.equal(udp.packet.flag_tc, false);
    assert.equal((udp.packet.answers ?? []).length, 4);
    assert.deepEqual(sections(udp.packet).additional, []);
    const tcp = await ask(big.port, name, "SRV", { tcp: true });
    assert.equal(sections(tcp.packet).additional.length, 4);
  });

  test("a reused (memoized) answer carries each query's ID, RD bit and case", async () => {
    const query = (id: number, name: string, rd: boolean) =>
      packet.encode({ type: "query", id, flags: rd ? packet.RECURSION_DESIRED : 0, questions: [{ name, type: "A" }] });
    for (const [id, name, rd] of [[101, "web.default.svc.cluster.local", true], [202, "web.default.svc.cluster.local", false], [303, "WEB.default.svc.cluster.local", false], [404, "web.default.svc.cluster.local", true]] as const) {
      const reply = packet.decode((await askUdpRaw(server.port, query(id, name, rd)))!);
      assert.equal(reply.id, id);
      assert.equal(reply.flag_rd, rd);
      assert.deepEqual(sections(reply).answer, [`${name} 5 A 10.96.0.20`]);
    }
  });

  test("an EDNS version other than 0 is BADVERS; a class other than IN is REFUSED; two questions are FORMERR", async () => {
    const bad = await ask(server.port, KUBE_DNS, "A", { udpSize: 1232, ednsVersion: 1 });
    const opt = (bad.packet.additionals ?? []).find((a) => a.type === "OPT") as { extendedRcode: number } | undefined;
    assert.equal(opt?.extendedRcode, 1); // 16 = extended 1, rcode 0
    const ch = await ask(server.port, "version.bind", "TXT", { klass: "CH" });
    assert.equal(ch.rcode, "REFUSED");
    const two = packet.encode({ type: "query", id: 7, questions: [{ name: "a.example", type: "A" }, { name: "b.example", type: "A" }] });
    const reply = await askUdpRaw(server.port, two);
    assert.ok(reply);
    assert.equal(packet.decode(reply).id, 7);
    assert.equal(rcodeOf(packet.decode(reply)), "FORMERR");
    assert.equal(await askUdpRaw(server.port, Buffer.from([1, 2, 3]), 300), null, "a runt gets no answer");
  });
});

describe("the source", () => {
  test("the cluster zone is SERVFAIL until the source has synced, never NXDOMAIN; forwarding works meanwhile; /ready follows", async () => {
    const source = new FakeSource(sampleCluster(), false);
    const s = new DnsServer(configWith(upstream.port), source, { log: () => {} });
    await s.start();
    try {
      assert.equal((await ask(s.port, KUBE_DNS, "A")).rcode, "SERVFAIL");
      assert.equal((await ask(s.port, "nope.default.svc.cluster.local", "A")).rcode, "SERVFAIL");
      assert.equal((await ask(s.port, "10.0.96.10.in-addr.arpa", "PTR")).rcode, "SERVFAIL");
      assert.equal((await ask(s.port, "www.example.org", "A")).rcode, "NOERROR");
      assert.equal((await fetch(`http://127.0.0.1:${s.httpPort}/ready`)).status, 503);
      assert.equal((await fetch(`http://127.0.0.1:${s.httpPort}/health`)).status, 200);
      source.markSynced();
      assert.equal((await ask(s.port, KUBE_DNS, "A")).rcode, "NOERROR");
      assert.equal((await fetch(`http://127.0.0.1:${s.httpPort}/ready`)).status, 200);
    } finally {
      await s.close();
    }
  });

  test("a new Service resolves within 1 s of the change, a deleted one is NXDOMAIN", async () => {
    const source = new FakeSource(sampleCluster());
    const s = new DnsServer(configWith(upstream.port), source, { log: () => {} });
    await s.start();
    try {
      const name = "late.default.svc.cluster.local";
      assert.equal((await ask(s.port, name, "A")).rcode, "NXDOMAIN");
      const t0 = Date.now();
      source.putService(service("default", "late", ["10.96.0.99"], ["http/80/TCP"]));
      const r = await until("the new service to resolve", async () => ((await ask(s.port, name, "A")).rcode === "NOERROR" ? true : undefined), 1000, 5);
      assert.ok(r && Date.now() - t0 < 1000);
      assert.deepEqual(sections((await ask(s.port, name, "A")).packet).answer, [`${name} 5 A 10.96.0.99`]);
      source.deleteService("default", "late");
      const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
      assert.match(metrics, /^weft_dns_zone_rebuild_seconds_count [1-9]\d*$/m);
      await until("the deleted service to be NXDOMAIN", async () => ((await ask(s.port, name, "A")).rcode === "NXDOMAIN" ? true : undefined), 1000, 5);
    } finally {
      await s.close();
    }
  });
});

describe("pod records", () => {
  const POD = "10-244-1-20.default.pod.cluster.local";
  for (const [mode, known, unknown, noNs] of [
    ["insecure", "NOERROR", "NOERROR", "NXDOMAIN"],
    ["verified", "NOERROR", "NXDOMAIN", "NXDOMAIN"],
  ] as const) {
    test(`pods: ${mode}`, async () => {
      const s = new DnsServer(configWith(upstream.port, `pods: ${mode}`), new FakeSource(sampleCluster()), { log: () => {} });
      await s.start();
      try {
        const r = await ask(s.port, POD, "A");
        assert.equal(r.rcode, known);
        assert.deepEqual(sections(r.packet).answer, [`${POD} 5 A 10.244.1.20`]);
        assert.equal((await ask(s.port, "10-244-7-7.default.pod.cluster.local", "A")).rcode, unknown);
        assert.equal((await ask(s.port, "10-244-1-20.nowhere.pod.cluster.local", "A")).rcode, noNs);
        const aaaa = await ask(s.port, POD, "AAAA");
        assert.equal(aaaa.rcode, "NOERROR");
        assert.deepEqual(sections(aaaa.packet).authority, [SOA]);
        assert.equal((await ask(s.port, "default.pod.cluster.local", "A")).rcode, "NOERROR");
      } finally {
        await s.close();
      }
    });
  }
});

describe("operations", () => {
  test("a port already taken is DNS_LISTEN_FAILED, naming the address, and nothing is left listening", async () => {
    const config = parseDnsConfig(`port: ${server.port}\nhttpPort: 0\nlisten: 127.0.0.1\nupstreams: []`, "test config");
    const second = new DnsServer(config, new FakeSource(), { log: () => {} });
    await assert.rejects(second.start(), (err: Error & { code?: string }) => {
      assert.equal(err.code, "DNS_LISTEN_FAILED");
      assert.match(err.message, /weft dns cannot listen on 127\.0\.0\.1: .*EADDRINUSE/);
      return true;
    });
    assert.equal(second.port, 0);
  });

  test("/metrics counts requests by type and rcode, latency, cache hits and misses", async () => {
    await ask(server.port, KUBE_DNS, "A");
    await ask(server.port, "nope.default.svc.cluster.local", "A");
    const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    assert.match(text, /^weft_dns_requests_total\{proto="udp",type="A",rcode="NOERROR"\} \d+$/m);
    assert.match(text, /^weft_dns_requests_total\{proto="udp",type="A",rcode="NXDOMAIN"\} \d+$/m);
    assert.match(text, /^weft_dns_requests_total\{proto="tcp",type="SRV",rcode="NOERROR"\} \d+$/m);
    assert.match(text, /^weft_dns_request_duration_seconds_count \d+$/m);
    assert.match(text, /^weft_dns_cache_misses_total [1-9]\d*$/m);
    assert.match(text, /^weft_dns_cache_hits_total [1-9]\d*$/m);
    assert.match(text, /^weft_dns_source_synced 1$/m);
    assert.match(text, /^weft_dns_zone_names \d+$/m);
    assert.equal((await fetch(`http://127.0.0.1:${server.httpPort}/nothing`)).status, 404);
  });
});
