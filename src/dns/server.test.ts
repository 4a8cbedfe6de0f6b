/**
 * weft dns against a real server on port 0 (UDP and TCP on loopback), fed
 * by the in-memory source, with a fake upstream for the names it forwards.
 * The table is the Kubernetes DNS specification 1.1.0 case by case:
 * qname, qtype → rcode, answer, additional, authority.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseDnsConfig, type DnsConfig } from "./config.ts";
import { FakeSource } from "./fake-source.ts";
import { DnsServer } from "./server.ts";
import { ask, sampleCluster, sections, startFakeUpstream, type FakeUpstream } from "./testing.ts";

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
