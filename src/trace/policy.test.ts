import { test } from "node:test";
import assert from "node:assert/strict";
import type { Explanation } from "../policy/explain.ts";
import { parseTraceTarget, policyHops, type PolicyFacts } from "./policy.ts";

test("a trace target is POD or POD:PORT[/PROTO]; anything else is a USAGE error naming it", () => {
  assert.deepEqual(parseTraceTarget("web"), { pod: "web", port: null });
  assert.deepEqual(parseTraceTarget("web:80"), { pod: "web", port: { protocol: "TCP", port: 80 } });
  assert.deepEqual(parseTraceTarget("web:53/udp"), { pod: "web", port: { protocol: "UDP", port: 53 } });
  assert.deepEqual(parseTraceTarget("web:9/SCTP"), { pod: "web", port: { protocol: "SCTP", port: 9 } });
  for (const bad of ["web:", "web:0", "web:65536", "web:80/icmp", "web:http", ":80"]) {
    assert.throws(() => parseTraceTarget(bad), (e: Error & { code?: string }) => e.code === "USAGE" && e.message.includes(JSON.stringify(bad)), bad);
  }
});

const open = (pod: string) => ({ pod, isolated: false, policies: [], allowedBy: [], allowed: true });
const facts = (e: Explanation, i: Explanation = e, port: PolicyFacts["port"] = { protocol: "TCP", port: 80 }): PolicyFacts => ({ port, egress: { ok: true, value: e }, ingress: { ok: true, value: i } });

test("policy hops: allowed names policy and rule; none allowing is a broken hop naming the isolating policies", () => {
  const allowed: Explanation = {
    self: false,
    allowed: true,
    egress: open("x/a"),
    ingress: { pod: "y/b", isolated: true, policies: ["y/deny", "y/web"], allowedBy: [{ policy: "y/web", rule: 1, ports: "TCP 80" }, { policy: "y/all", rule: 0, ports: "all ports" }], allowed: true },
  };
  const h = policyHops(facts(allowed), "node1", "node2", "b (10.244.2.2)", "a (10.244.1.2)");
  assert.deepEqual([h.egress.at, h.egress.what, h.egress.status], ["node1", "policy egress TCP 80", "ok"]);
  assert.match(h.egress.found, /x\/a is not isolated for egress/);
  assert.deepEqual([h.ingress.at, h.ingress.status], ["node2", "ok"]);
  assert.equal(h.ingress.found, "y/b is isolated for ingress; allowed by y/web ingress rule 1 (TCP 80)");
  assert.deepEqual(h.ingress.notes, ["also allowed by y/all ingress rule 0 (all ports)"]);

  const denied: Explanation = { ...allowed, allowed: false, egress: { pod: "x/a", isolated: true, policies: ["x/deny-egress"], allowedBy: [], allowed: false } };
  const d = policyHops(facts(denied, denied, null), "node1", "node2", "b (10.244.2.2)", "a (10.244.1.2)");
  assert.equal(d.egress.status, "broken");
  assert.equal(d.egress.what, "policy egress");
  assert.equal(d.egress.found, "x/a is isolated for egress by x/deny-egress; no rule allows any port to b (10.244.2.2)");
  assert.match(d.egress.missing!, /dropped .*direction="egress"/);
  assert.match(d.egress.fix!, /^add an egress rule to b \(10\.244\.2\.2\) to one of x\/deny-egress/);
});

test("policy hops: an agent without policy filters nothing; one that does not answer leaves the verdict unknown", () => {
  const f: PolicyFacts = { port: null, egress: { ok: false, off: true, error: "network policy does not run on node1" }, ingress: { ok: false, off: false, error: "cannot reach the weft agent" } };
  const h = policyHops(f, "node1", "node2", "b", "a");
  assert.deepEqual([h.egress.status, h.egress.found], ["ok", "network policy does not run on node1: nothing is filtered here"]);
  assert.deepEqual([h.ingress.status, h.ingress.found], ["unknown", "cannot ask node2's agent: cannot reach the weft agent"]);
  const self = policyHops(facts({ self: true, allowed: true, egress: null, ingress: null }), "n", "n", "a", "a");
  assert.equal(self.ingress.found, "a pod reaching itself is always allowed");
});
