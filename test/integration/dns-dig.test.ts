/**
 * weft dns answers dig (BIND 9's, Debian bind9-dnsutils) as the seed's
 * smoke test asks it, over UDP and TCP: a real server on a loopback port,
 * fed by the in-memory source holding the kube-dns Service. (In the lab,
 * the same queries go to 10.96.0.10 from nodes and pods.)
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { parseDnsConfig } from "../../src/dns/config.ts";
import { FakeSource } from "../../src/dns/fake-source.ts";
import { DnsServer } from "../../src/dns/server.ts";
import { sampleCluster, service } from "../../src/dns/testing.ts";

let server: DnsServer;

before(async () => {
  const cluster = sampleCluster();
  const endpoints = Array.from({ length: 60 }, (_, i) => ({
    addresses: [`10.244.9.${i + 1}`], ready: true, serving: true, terminating: false, hostname: null, nodeName: "node1",
  }));
  const source = new FakeSource({
    ...cluster,
    services: [...cluster.services, { ...service("default", "big", [], []), headless: true }],
    endpointSlices: [...cluster.endpointSlices, { namespace: "default", name: "big-1", service: "big", addressType: "IPv4", ports: [], endpoints }],
  });
  server = new DnsServer(parseDnsConfig("port: 0\nhttpPort: 0\nlisten: 127.0.0.1\nupstreams: []", "t"), source, { log: () => {} });
  await server.start();
});
after(() => server?.close());

/** dig's full output for ARGS against the server (asynchronous: the server runs in this process). */
async function dig(...args: string[]): Promise<string> {
  return (await promisify(execFile)("dig", ["@127.0.0.1", "-p", String(server.port), "+time=2", "+tries=1", ...args], { encoding: "utf8" })).stdout;
}
/** The records of one section of dig's output, whitespace squeezed. */
function section(out: string, name: "ANSWER" | "ADDITIONAL" | "AUTHORITY"): string[] {
  const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)\\n\\n`).exec(out);
  return m ? m[1]!.split("\n").map((l) => l.replace(/\s+/g, " ").trim()) : [];
}

for (const transport of ["+notcp", "+tcp"]) {
  test(`seed 000's three queries (${transport})`, async () => {
    const a = await dig(transport, "kube-dns.kube-system.svc.cluster.local");
    assert.match(a, /status: NOERROR/);
    assert.deepEqual(section(a, "ANSWER"), ["kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.10"]);

    const srv = await dig(transport, "-t", "SRV", "_dns._udp.kube-dns.kube-system.svc.cluster.local");
    assert.deepEqual(section(srv, "ANSWER"), ["_dns._udp.kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 100 53 kube-dns.kube-system.svc.cluster.local."]);
    assert.deepEqual(section(srv, "ADDITIONAL"), ["kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.10"]);

    const tcp = await dig(transport, "-t", "SRV", "_dns-tcp._tcp.kube-dns.kube-system.svc.cluster.local");
    assert.deepEqual(section(tcp, "ANSWER"), ["_dns-tcp._tcp.kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 100 53 kube-dns.kube-system.svc.cluster.local."]);
    assert.deepEqual(section(tcp, "ADDITIONAL"), ["kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.10"]);
  });
}

test("dig: every record kind — PTR (IPv4, IPv6, endpoints), AAAA, NODATA and NXDOMAIN with the SOA, TXT, headless A and SRV, CNAME, case", async () => {
  assert.deepEqual(section(await dig("-x", "10.96.0.10"), "ANSWER"), ["10.0.96.10.in-addr.arpa. 5 IN PTR kube-dns.kube-system.svc.cluster.local."]);
  const nodata = await dig("-t", "AAAA", "kube-dns.kube-system.svc.cluster.local");
  assert.match(nodata, /status: NOERROR/);
  assert.deepEqual(section(nodata, "ANSWER"), []);
  assert.deepEqual(section(nodata, "AUTHORITY"), ["cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5".replace(" 1 ", ` ${server.handler.zone.serial} `)]);
  assert.match(await dig("nope.kube-system.svc.cluster.local"), /status: NXDOMAIN/);
  assert.match(await dig("web.nowhere.svc.cluster.local"), /status: NXDOMAIN/);
  assert.deepEqual(section(await dig("-t", "TXT", "dns-version.cluster.local"), "ANSWER"), ['dns-version.cluster.local. 5 IN TXT "1.1.0"']);
  assert.equal((await dig("+short", "db-0.db.default.svc.cluster.local")).trim(), "10.244.1.5");
  assert.equal((await dig("+short", "ext.default.svc.cluster.local", "-t", "CNAME")).trim(), "www.example.org.");
  assert.equal((await dig("+short", "-t", "AAAA", "dual.default.svc.cluster.local")).trim(), "fd00:96::30");
  assert.deepEqual(section(await dig("-x", "fd00:96::30"), "ANSWER"), ["0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa. 5 IN PTR dual.default.svc.cluster.local."]);
  assert.deepEqual(section(await dig("-x", "10.244.1.5"), "ANSWER"), ["5.1.244.10.in-addr.arpa. 5 IN PTR db-0.db.default.svc.cluster.local."]);
  const srv = await dig("-t", "SRV", "_pg._tcp.db.default.svc.cluster.local");
  assert.deepEqual(section(srv, "ANSWER").sort(), [
    "_pg._tcp.db.default.svc.cluster.local. 5 IN SRV 0 50 5432 10-244-2-6.db.default.svc.cluster.local.",
    "_pg._tcp.db.default.svc.cluster.local. 5 IN SRV 0 50 5432 db-0.db.default.svc.cluster.local.",
  ]);
  assert.equal(section(srv, "ADDITIONAL").length, 3);
  assert.deepEqual(section(await dig("KUBE-DNS.Kube-System.svc.CLUSTER.local"), "ANSWER"), ["KUBE-DNS.Kube-System.svc.CLUSTER.local. 5 IN A 10.96.0.10"]);
  assert.deepEqual((await dig("+short", "db.default.svc.cluster.local")).trim().split("\n").sort(), ["10.244.1.5", "10.244.2.6"]);
});

test("dig: a UDP answer over the buffer size has TC, and dig's retry over TCP gets all of it", async () => {
  const udp = await dig("+bufsize=1232", "+ignore", "big.default.svc.cluster.local");
  assert.match(udp, /flags:[^;]* tc/);
  const retried = await dig("+bufsize=1232", "big.default.svc.cluster.local");
  assert.match(retried, /Truncated, retrying in TCP mode/);
  assert.equal(section(retried, "ANSWER").length, 60);
});
