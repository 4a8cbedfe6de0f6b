import { test } from "node:test";
import assert from "node:assert/strict";
import { evaluate } from "./evaluate.ts";
import { explain, type ExplainQuery } from "./explain.ts";
import { pod, policy, servePorts } from "./testing.ts";
import type { Namespace, NetworkPolicy } from "./types.ts";
import { PolicyIndex } from "./world.ts";

const namespaces: Namespace[] = [{ name: "x", labels: { ns: "x" } }, { name: "y", labels: { ns: "y" } }];
const a = pod("x", "a", "10.244.1.2", { ports: servePorts() });
const b = pod("x", "b", "10.244.1.3");
const c = pod("y", "c", "10.244.2.2");
const policies: NetworkPolicy[] = [
  policy("x", "deny-a", { podSelector: { matchLabels: { pod: "a" } } }),
  policy("x", "web", {
    podSelector: { matchLabels: { pod: "a" } },
    ingress: [
      { peers: [{ podSelector: { matchLabels: { pod: "b" } } }], ports: [{ protocol: "TCP", port: 80 }] },
      { peers: [{ namespaceSelector: { matchLabels: { ns: "y" } } }], ports: [{ protocol: "UDP", port: "serve-81-udp" }, { protocol: "TCP", port: 8000, endPort: 8080 }] },
    ],
  }),
  policy("y", "egress-dns", { podSelector: {}, policyTypes: ["Egress"], egress: [{ ports: [{ protocol: "UDP", port: 53 }] }] }),
];
const index = new PolicyIndex({ pods: [a, b, c], namespaces, policies });

test("explain names the policy and rule allowing each direction, or that none does", () => {
  const cases: { name: string; q: ExplainQuery; egress: string[] | null | "open"; ingress: string[] | null | "open" }[] = [
    { name: "b to a TCP 80: x/web rule 0", q: { src: b.ips[0]!, dst: a.ips[0]!, protocol: "TCP", port: 80 }, egress: "open", ingress: ["x/web 0 TCP 80"] },
    { name: "b to a TCP 81: nothing", q: { src: b.ips[0]!, dst: a.ips[0]!, protocol: "TCP", port: 81 }, egress: "open", ingress: [] },
    { name: "b to a, any port: rule 0's ports", q: { src: b.ips[0]!, dst: a.ips[0]! }, egress: "open", ingress: ["x/web 0 TCP 80"] },
    { name: "c to a UDP 81 by its name, but c's egress is DNS only", q: { src: c.ips[0]!, dst: a.ips[0]!, protocol: "UDP", port: 81 }, egress: [], ingress: ["x/web 1 UDP serve-81-udp (81)"] },
    { name: "c to a, any port: both ports of rule 1", q: { src: c.ips[0]!, dst: a.ips[0]! }, egress: ["y/egress-dns 0 UDP 53"], ingress: ["x/web 1 UDP serve-81-udp (81), TCP 8000-8080"] },
    { name: "c to a TCP only: the range", q: { src: c.ips[0]!, dst: a.ips[0]!, protocol: "TCP" }, egress: [], ingress: ["x/web 1 TCP 8000-8080"] },
    { name: "a to an outside address", q: { src: a.ips[0]!, dst: "192.0.2.1", protocol: "TCP", port: 443 }, egress: "open", ingress: null },
  ];
  for (const t of cases) {
    const e = explain(index, t.q);
    for (const [dir, want] of [["egress", t.egress], ["ingress", t.ingress]] as const) {
      const d = e[dir];
      if (want === null) assert.equal(d, null, `${t.name}: ${dir}`);
      else if (want === "open") assert.deepEqual([d?.isolated, d?.allowed], [false, true], `${t.name}: ${dir}`);
      else {
        assert.equal(d?.isolated, true, `${t.name}: ${dir}`);
        assert.deepEqual(d.allowedBy.map((r) => `${r.policy} ${r.rule} ${r.ports}`), want, `${t.name}: ${dir}`);
        assert.equal(d.allowed, want.length > 0, `${t.name}: ${dir}`);
      }
    }
    // With a port, explain and evaluate agree.
    if (t.q.port !== undefined) assert.equal(e.allowed, evaluate(index, { src: t.q.src, dst: t.q.dst, protocol: t.q.protocol!, port: t.q.port }).allowed, t.name);
  }
  assert.deepEqual(explain(index, { src: b.ips[0]!, dst: a.ips[0]! }).ingress?.policies, ["x/deny-a", "x/web"]);
});

test("a pod reaching itself is allowed whatever isolates it", () => {
  assert.deepEqual(explain(index, { src: a.ips[0]!, dst: a.ips[0]!, protocol: "TCP", port: 9 }), { egress: null, ingress: null, allowed: true, self: true });
});
