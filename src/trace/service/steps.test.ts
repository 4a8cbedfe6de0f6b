import { test } from "node:test";
import assert from "node:assert/strict";
import { planService } from "../../proxy/plan.ts";
import type { EndpointSlice, Service } from "../../proxy/types.ts";
import type { ServiceFacts } from "./facts.ts";
import { parseConntrackReply, pickPort } from "./read.ts";
import { serviceSteps } from "./steps.ts";

const OPTS = { nodeName: "node1", nodePodCidr: "10.244.1.0/24", clusterCidr: "10.244.0.0/16", serviceCidr: "10.96.0.0/12" };

const web: Service = {
  namespace: "default", name: "web", type: "ClusterIP", clusterIPs: ["10.96.0.40"], externalIPs: [], loadBalancerIngress: [],
  ports: [{ name: "http", protocol: "TCP", port: 80, targetPort: "http" }, { name: "dns", protocol: "UDP", port: 53, targetPort: 53 }],
  sessionAffinity: "None", affinityTimeoutSeconds: 10800, externalTrafficPolicy: "Cluster", internalTrafficPolicy: "Cluster", loadBalancerSourceRanges: [],
};
const slice = (ready: boolean[]): EndpointSlice => ({
  namespace: "default", name: "web-x", service: "web",
  endpoints: ready.map((r, i) => ({ address: `10.244.${i + 1}.10`, ready: r, serving: r, terminating: false, nodeName: `node${i + 1}` })),
  ports: [{ name: "http", protocol: "TCP", port: 8080 }],
});
const CT = "tcp      6 119 TIME_WAIT src=10.244.1.5 dst=10.96.0.40 sport=41234 dport=80 src=10.244.2.10 dst=10.244.1.5 sport=8080 dport=41234 [ASSURED] mark=0 use=1";

/** Facts of a pod on node1 tracing web:80 with two ready endpoints, all programmed, the probe DNATed to the second. */
function facts(o: Partial<ServiceFacts> = {}, ready = [true, true]): ServiceFacts {
  const slices = [slice(ready)];
  const port = web.ports[0]!;
  const expected = planService({ ...web, ports: [port] }, slices, OPTS).ports[0]!;
  const eps = expected.endpoints;
  return {
    lab: "t", from: { name: "a", namespace: "default", node: "node1", netns: "t-pod-a", ip: "10.244.1.5" },
    service: web, slices, clusterIP: "10.96.0.40", protocol: "tcp", port, dport: 80, expected,
    node: { name: "node1", netns: "t-node1" },
    kernel: eps.length
      ? { tableError: null, serviceVerdict: "goto svc-default/web/tcp/http", noEndpointVerdict: null, clusterIpListed: true, balance: { chain: "svc-default/web/tcp/http", endpoints: eps.map((e) => ({ chain: `ep-default/web/tcp/http__${e.replace(":", "/")}`, target: e })), error: null } }
      : { tableError: null, serviceVerdict: null, noEndpointVerdict: "goto reject-chain", clusterIpListed: true, balance: null },
    probe: eps.length
      ? { kind: "connect", outcome: "connected", ms: 1.2, localPort: 41234, detail: null, conntrack: parseConntrackReply(CT), conntrackError: null }
      : { kind: "connect", outcome: "refused", ms: 0.8, localPort: null, detail: "connect ECONNREFUSED 10.96.0.40:80", conntrack: null, conntrackError: null },
    ...o,
  };
}

const summary = (f: ServiceFacts) => {
  const s = serviceSteps(f);
  return { verdict: s.verdict, endpoint: s.endpoint, hops: s.hops.map((h) => `${h.status} ${h.at} ${h.what}`) };
};

test("conntrack's reply tuple names the endpoint", () => {
  assert.deepEqual(parseConntrackReply(CT), { endpoint: "10.244.2.10:8080", entry: CT.replace(/\s+/g, " ") });
  assert.equal(parseConntrackReply(""), null);
  assert.equal(parseConntrackReply("conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n"), null);
});

test("translated: every step ok, the endpoint is conntrack's", () => {
  const s = summary(facts());
  assert.equal(s.verdict, "dnat");
  assert.deepEqual(s.endpoint, { ip: "10.244.2.10", port: 8080, chosenBy: "conntrack" });
  assert.deepEqual(s.hops, ["ok api service", "ok api endpoints", "ok node1 proxy map", "ok node1 endpoints", "ok node1 probe"]);
  const hops = serviceSteps(facts()).hops;
  assert.match(hops[1]!.found, /^2 usable: 10\.244\.1\.10:8080 \(node1\), 10\.244\.2\.10:8080 \(node2\)$/);
  assert.match(hops[3]!.found, /numgen random, 1\/2 each\), as the API says$/);
  assert.match(hops[4]!.found, /^TCP from a:41234 → 10\.96\.0\.40:80: connected in 1\.2 ms; conntrack on node1: DNAT to 10\.244\.2\.10:8080/);
});

test("no ready endpoint: refused at once, by design", () => {
  const f = facts({}, [false, false]);
  const s = serviceSteps(f);
  assert.equal(s.verdict, "refused");
  assert.equal(s.endpoint, null);
  assert.deepEqual(summary(f).hops, ["ok api service", "broken api endpoints", "broken node1 proxy map", "ok node1 probe"]);
  assert.match(s.hops[1]!.found, /none of its endpoints is ready; not ready: 10\.244\.1\.10, 10\.244\.2\.10/);
  assert.match(s.hops[2]!.found, /no-endpoint-services: 10\.96\.0\.40 \. tcp \. 80 → goto reject-chain: no endpoint at all/);
  assert.match(s.hops[2]!.fix!, /give the Service a ready endpoint/);
  assert.match(s.hops[3]!.found, /refused in 0\.8 ms \(ECONNREFUSED\)/);
  assert.match(s.summary, /connect\(\) gets ECONNREFUSED at once/);
});

test("an undefined port: rejected by the post-DNAT check", () => {
  const f = facts({ port: null, dport: 9999, expected: null, kernel: { tableError: null, serviceVerdict: null, noEndpointVerdict: null, clusterIpListed: true, balance: null }, probe: { kind: "connect", outcome: "refused", ms: 0.5, localPort: null, detail: "connect ECONNREFUSED", conntrack: null, conntrackError: null } });
  const s = serviceSteps(f);
  assert.equal(s.verdict, "refused");
  assert.deepEqual(summary(f).hops, ["broken api service", "broken node1 proxy map", "ok node1 probe"]);
  assert.match(s.hops[0]!.missing!, /port 9999\/TCP: the Service does not define it/);
  assert.match(s.hops[1]!.found, /10\.96\.0\.40 is in set cluster-ips, so the post-DNAT check rejects the packet/);
  assert.match(s.summary, /has no port 9999\/TCP; connect\(\) gets ECONNREFUSED/);
});

test("ping: no DNAT for ICMP, port unreachable, no echo reply", () => {
  const f = facts({ protocol: "icmp", port: null, dport: null, expected: null, kernel: { tableError: null, serviceVerdict: null, noEndpointVerdict: null, clusterIpListed: true, balance: null }, probe: { kind: "ping", outcome: "unreachable", ms: 3, localPort: null, detail: "Destination Port Unreachable", conntrack: null, conntrackError: null } });
  const s = serviceSteps(f);
  assert.equal(s.verdict, "no-reply");
  assert.deepEqual(summary(f).hops, ["ok api service", "broken node1 proxy map", "ok node1 probe"]);
  assert.match(s.hops[1]!.found, /DNAT\) for TCP, UDP and SCTP only: the proxy's maps are keyed by address \. protocol \. port, and an ICMP echo has no port/);
  assert.match(s.hops[2]!.found, /got "Destination Port Unreachable" in 3 ms, no echo reply/);
  assert.match(s.summary, /^ping 10\.96\.0\.40 gets no echo reply/);
});

test("the chain behind the API: the step says which endpoints differ", () => {
  const base = facts();
  const f = facts({ kernel: { ...base.kernel, balance: { chain: "svc-default/web/tcp/http", endpoints: [{ chain: "ep-x", target: "10.244.1.10:8080" }, { chain: "ep-y", target: "10.244.3.3:8080" }], error: null } } });
  const hop = serviceSteps(f).hops[3]!;
  assert.equal(hop.status, "broken");
  assert.match(hop.missing!, /^missing 10\.244\.2\.10:8080; no longer in the API: 10\.244\.3\.3:8080$/);
});

test("no table: nothing translates", () => {
  const f = facts({ kernel: { tableError: "Error: No such file or directory", serviceVerdict: null, noEndpointVerdict: null, clusterIpListed: false, balance: null }, probe: null });
  const s = serviceSteps(f);
  assert.equal(s.verdict, "dropped");
  assert.match(s.hops.at(-1)!.found, /^table ip weft-proxy is not there/);
  assert.match(s.hops.at(-1)!.fix!, /"serviceProxy": true/);
});

test("without a probe the endpoint is the only one, or the first and said so", () => {
  const one = facts({ probe: null }, [true, false]);
  assert.deepEqual(serviceSteps(one).endpoint, { ip: "10.244.1.10", port: 8080, chosenBy: "only" });
  assert.deepEqual(serviceSteps(facts({ probe: null })).endpoint, { ip: "10.244.1.10", port: 8080, chosenBy: "first" });
});

test("picking the port", () => {
  const ref = (port: number | string | null) => ({ kind: "name" as const, namespace: "default", name: "web", port });
  assert.deepEqual(pickPort(web, ref(80), undefined), { port: web.ports[0], dport: 80, protocol: "tcp" });
  assert.deepEqual(pickPort(web, ref("dns"), undefined), { port: web.ports[1], dport: 53, protocol: "udp" });
  assert.deepEqual(pickPort(web, ref(null), "udp"), { port: web.ports[1], dport: 53, protocol: "udp" });
  assert.deepEqual(pickPort(web, ref(9999), undefined), { port: null, dport: 9999, protocol: "tcp" });
  assert.deepEqual(pickPort(web, ref(null), "icmp"), { port: null, dport: null, protocol: "icmp" });
  assert.throws(() => pickPort(web, ref(null), undefined), /has 2 ports \(http 80\/TCP, dns 53\/UDP\); say which/);
  assert.throws(() => pickPort(web, ref("nope"), undefined), /has no port named "nope"; its ports: http 80\/TCP, dns 53\/UDP/);
});
