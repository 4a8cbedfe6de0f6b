import { test } from "node:test";
import assert from "node:assert/strict";
import type { NodeFacts } from "../facts.ts";
import { fakeNode } from "../testing.ts";
import { checkPolicy } from "./policy.ts";
import type { PolicyStatus } from "../../policy/controller.ts";

function running(node: NodeFacts, o: Partial<PolicyStatus> = {}): void {
  node.agent.policy = {
    ok: true,
    value: {
      node: node.name, strict: false, synced: true, policies: 2, last: null, problems: [],
      pods: [
        { namespace: "x", name: "a", ips: ["10.244.1.5"], ingress: { isolated: true, policies: ["x/web"], rules: 1 }, egress: { isolated: false, policies: [], rules: 0 } },
        { namespace: "x", name: "b", ips: ["10.244.1.6"], ingress: { isolated: false, policies: [], rules: 0 }, egress: { isolated: false, policies: [], rules: 0 } },
      ],
      ...o,
    },
  };
  const chain = (name: string) => ({ chain: { family: "inet", table: "weft-policy", name } });
  node.kernel.policyTable = { ok: true, value: [{ table: { family: "inet", name: "weft-policy" } }, chain("forward"), chain("ingress-drop"), chain("in-10.244.1.5")] };
}

const cases: [name: string, setUp: (n: NodeFacts) => void, status: "ok" | "warn" | "fail" | null, message?: RegExp, fix?: RegExp][] = [
  ["policy off: said so", () => {}, "ok", /does not run here/],
  ["the agent is down: the agent check speaks", (n) => (n.agent.policy = { ok: false, error: "cannot reach the weft agent at /x (connect ENOENT)" }), null],
  ["enforced and matching", (n) => running(n), "ok", /table inet weft-policy matches: 2 pods, 1 isolated, 2 policies/],
  ["not synced yet", (n) => running(n, { synced: false }), "warn", /has not synced yet/, /list and watch on pods, namespaces and networkpolicies/],
  ["table missing", (n) => { running(n); n.kernel.policyTable = { ok: true, value: null }; }, "fail", /missing although the agent enforces 2 policies: 1 isolated pods are open/, /repairs the table/],
  ["a pod's chain missing", (n) => { running(n); (n.kernel.policyTable as { value: unknown[] }).value.pop(); }, "fail", /stale: no chain for in-10\.244\.1\.5/],
  ["a chain for a pod no longer isolated", (n) => { running(n); (n.kernel.policyTable as { value: unknown[] }).value.push({ chain: { family: "inet", table: "weft-policy", name: "eg-10.244.1.6" } }); }, "fail", /chains for pods no longer isolated: eg-10\.244\.1\.6/],
  ["isolated with nothing allowed", (n) => running(n, { pods: [{ namespace: "x", name: "a", ips: ["10.244.1.5"], ingress: { isolated: true, policies: ["x/deny"], rules: 0 }, egress: { isolated: false, policies: [], rules: 0 } }] }), "warn", /isolated with no rule allowing anything: x\/a \(ingress: x\/deny\)/, /default deny needs nothing/],
];

test("policy check: table present and matching what the agent enforces", () => {
  for (const [name, setUp, status, message, fix] of cases) {
    const node = fakeNode(1, 2);
    setUp(node);
    const found = checkPolicy(node, { nodes: [node], lab: null, kubernetes: null });
    if (status === null) {
      assert.deepEqual(found, [], name);
      continue;
    }
    assert.equal(found.length, 1, name);
    assert.equal(found[0]!.status, status, `${name}: ${found[0]!.message}`);
    assert.match(found[0]!.message, message!, name);
    if (fix) assert.match(found[0]!.fix ?? "", fix, name);
  }
});
