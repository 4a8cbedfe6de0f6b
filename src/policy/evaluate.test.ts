import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluate } from "./evaluate.ts";
import { pod, policy } from "./testing.ts";
import type { Namespace } from "./types.ts";

const namespaces: Namespace[] = [{ name: "x", labels: { ns: "x" } }, { name: "y", labels: { ns: "y" } }];
const a = pod("x", "a", "10.244.1.2", { ports: [{ name: "http", port: 8080, protocol: "TCP" }] });
const b = pod("y", "b", "10.244.2.2");
const host = pod("x", "h", "192.168.125.101", { hostNetwork: true });
const tcp = (src: string, dst: string, port = 8080) => ({ src, dst, protocol: "TCP" as const, port });

test("verdicts name the policies that allow, or the pod no rule allows", () => {
  const world = {
    pods: [a, b, host],
    namespaces,
    policies: [
      policy("x", "from-y", { ingress: [{ peers: [{ namespaceSelector: { matchLabels: { ns: "y" } } }], ports: [{ protocol: "TCP", port: "http" }] }] }),
      policy("x", "deny"),
    ],
  };
  const ok = evaluate(world, tcp(b.ips[0]!, a.ips[0]!));
  assert.deepEqual([ok.allowed, ok.ingress], [true, { isolated: true, allowedBy: ["x/from-y"] }]);
  assert.equal(ok.egress?.isolated, false);
  const wrongPort = evaluate(world, tcp(b.ips[0]!, a.ips[0]!, 8081));
  assert.deepEqual([wrongPort.allowed, wrongPort.reason], [false, "no ingress rule of x/a allows it"]);
  // A named port resolves against the destination; UDP 8080 is not "http" (TCP).
  assert.equal(evaluate(world, { src: b.ips[0]!, dst: a.ips[0]!, protocol: "UDP", port: 8080 }).allowed, false);
  // The pod's own node, and the pod itself, always get through.
  const fromNode = evaluate(world, tcp("192.168.125.101", a.ips[0]!, 22), { nodeIps: new Map([["n1", ["192.168.125.101"]]]) });
  assert.deepEqual([fromNode.allowed, fromNode.reason], [true, "from the destination pod's own node"]);
  assert.equal(evaluate(world, tcp("192.168.125.101", a.ips[0]!, 22)).allowed, false);
  assert.deepEqual(evaluate(world, tcp(a.ips[0]!, a.ips[0]!, 1)).reason, "a pod reaching itself");
  // A hostNetwork pod is never selected: nothing isolates it.
  assert.equal(evaluate(world, tcp(a.ips[0]!, "192.168.125.101", 22)).allowed, true);
});

test("egress and ingress must both allow; ipBlock matches pod addresses too", () => {
  const world = {
    pods: [a, b],
    namespaces,
    policies: [
      policy("x", "to-block", { policyTypes: ["Egress"], egress: [{ peers: [{ ipBlock: { cidr: "10.244.0.0/16", except: ["10.244.1.0/24"] } }] }] }),
      policy("y", "b-from-x", { ingress: [{ peers: [{ namespaceSelector: { matchLabels: { ns: "x" } }, podSelector: { matchLabels: { pod: "z" } } }] }] }),
    ],
  };
  const v = evaluate(world, tcp(a.ips[0]!, b.ips[0]!));
  assert.deepEqual([v.allowed, v.egress?.allowedBy, v.ingress?.allowedBy], [false, ["x/to-block"], []]);
  assert.equal(evaluate(world, tcp(a.ips[0]!, "10.244.1.9")).allowed, false);
  assert.equal(evaluate(world, tcp(a.ips[0]!, "10.244.3.9")).allowed, true);
});
