import { test } from "node:test";
import assert from "node:assert/strict";
import { compilePolicies, EGRESS_PODS, INGRESS_PODS, type PolicyPlan } from "./compile.ts";
import { evaluate, type Connection } from "./evaluate.ts";
import { applyToModel, planModel, pod, policy, runPlan, servePorts, type TableModel } from "./testing.ts";
import { diffPlans, fullSync } from "./diff.ts";
import type { LabelSelector, Namespace, NetworkPolicy, Peer, Pod, PolicyPort, PolicyRule, Protocol } from "./types.ts";
import { PolicyIndex } from "./world.ts";
import { NftTransaction } from "../kernel/nft/transaction.ts";

const NS: Namespace[] = [{ name: "x", labels: { ns: "x" } }, { name: "y", labels: { ns: "y" } }];

test("policyTypes are inferred as the API server does: only egress rules still isolate ingress", () => {
  const pods = [pod("x", "a", "10.244.1.2"), pod("x", "b", "10.244.1.3")];
  const plan = compilePolicies({ nodeName: "n1", pods, namespaces: NS, policies: [policy("x", "eg", { egress: [{}] })] });
  assert.deepEqual(plan.pods.map((p) => [p.name, p.ingress.isolated, p.egress.isolated]), [["a", true, true], ["b", true, true]]);
  const explicit = compilePolicies({ nodeName: "n1", pods, namespaces: NS, policies: [policy("x", "eg", { policyTypes: ["Egress"], egress: [{}] })] });
  assert.deepEqual(explicit.pods.map((p) => [p.ingress.isolated, p.egress.isolated]), [[false, true], [false, true]]);
});

test("only this node's pods get chains; hostNetwork pods are never selected", () => {
  const pods = [pod("x", "a", "10.244.1.2"), pod("x", "b", "10.244.2.2", { node: "n2" }), pod("x", "h", "192.168.125.101", { hostNetwork: true })];
  const plan = compilePolicies({ nodeName: "n1", pods, namespaces: NS, policies: [policy("x", "deny")] });
  assert.deepEqual(plan.sets.get(INGRESS_PODS)!.elements, [{ key: ["10.244.1.2"], value: "jump in-10.244.1.2" }]);
  assert.deepEqual(plan.sets.get(EGRESS_PODS)!.elements, []);
  assert.deepEqual(plan.pods.map((p) => p.name), ["a"]);
  assert.deepEqual(plan.chains.get("in-10.244.1.2")!.rules, ["ip saddr 10.244.1.2 accept", "goto ingress-drop"]);
});

test("a broken policy still isolates and its broken rule allows nothing; the problem names the field", () => {
  const pods = [pod("x", "a", "10.244.1.2")];
  const bad = policy("x", "bad", { ingress: [{ ports: [{ protocol: "TCP", port: 80, endPort: 70 }] }, { peers: [{ ipBlock: { cidr: "10.0.0/8", except: [] } }] }] });
  const plan = compilePolicies({ nodeName: "n1", pods, namespaces: NS, policies: [bad] });
  assert.equal(plan.problems.length, 2);
  assert.match(plan.problems[0]!, /x\/bad: spec.ingress\[0\].ports\[0\]: endPort 70/);
  assert.match(plan.problems[1]!, /spec.ingress\[1\].peers\[0\].ipBlock/);
  assert.deepEqual(plan.chains.get("in-10.244.1.2")!.rules, ["ip saddr 10.244.1.2 accept", "goto ingress-drop"]);
});

test("named ports resolve per selected pod; pods resolving alike share one port set", () => {
  const web = (name: string, ip: string, port: number) => pod("x", name, ip, { labels: { app: "web" }, ports: [{ name: "http", port, protocol: "TCP" }] });
  const pods = [web("a", "10.244.1.2", 8080), web("b", "10.244.1.3", 8080), web("c", "10.244.1.4", 9090), pod("x", "d", "10.244.1.5")];
  const plan = compilePolicies({ nodeName: "n1", pods, namespaces: NS, policies: [policy("x", "web", { ingress: [{ ports: [{ protocol: "TCP", port: "http" }] }] })] });
  const portSets = [...plan.sets.values()].filter((s) => s.set.name.startsWith("ports-"));
  assert.deepEqual(portSets.map((s) => s.elements.map((e) => e.key.join(" . "))).sort(), [["6 . 8080"], ["6 . 9090"]]);
  // d has no port named http: only itself and nothing else.
  assert.deepEqual(plan.chains.get("in-10.244.1.5")!.rules, ["ip saddr 10.244.1.5 accept", "goto ingress-drop"]);
});

test("policy rules opening the same ports to a pod are one nft rule over the union of their peers, however many policies", () => {
  const pods = [pod("x", "web", "10.244.1.2", { labels: { app: "web" } })];
  for (let i = 0; i < 50; i++) pods.push(pod("y", `c${i}`, `10.244.2.${10 + i}`, { node: "n2", labels: { client: `c${i}` } }));
  const from = (i: number): PolicyRule => ({ peers: [{ namespaceSelector: {}, podSelector: { matchLabels: { client: `c${i}` } } }], ports: [{ protocol: "TCP", port: 80 }] });
  const policies = Array.from({ length: 50 }, (_, i) => policy("x", `allow-${i}`, { podSelector: { matchLabels: { app: "web" } }, ingress: [from(i)] }));
  policies.push(policy("x", "dns", { podSelector: { matchLabels: { app: "web" } }, ingress: [{ peers: [{ ipBlock: { cidr: "10.9.0.0/16", except: [] } }], ports: [{ protocol: "UDP", port: 53 }] }] }));
  const plan = compilePolicies({ nodeName: "n1", pods, namespaces: NS, policies });
  const rules = plan.chains.get("in-10.244.1.2")!.rules;
  assert.equal(rules.length, 4, rules.join("\n"));
  assert.match(rules[1]!, /^ip saddr @g[0-9a-f]{10}-peers meta l4proto \. th dport @\S+ accept$/);
  assert.match(rules[2]!, /^ip saddr @p[0-9a-f]{10}-i0-peers meta l4proto \. th dport @\S+ accept$/);
  assert.equal(plan.pods[0]!.ingress.rules, 2);
  const union = plan.sets.get(/@(\S+)/.exec(rules[1]!)![1]!)!;
  assert.deepEqual(union.elements.map((e) => e.key[0]), ["10.244.2.10-10.244.2.59"]);
  for (const src of ["10.244.2.10", "10.244.2.35", "10.244.2.59"]) assert.equal(runPlan(plan, { src, dst: "10.244.1.2", protocol: "TCP", port: 80 }), "accept", src);
  assert.equal(runPlan(plan, { src: "10.244.2.60", dst: "10.244.1.2", protocol: "TCP", port: 80 }), "drop");
  assert.equal(runPlan(plan, { src: "10.244.2.10", dst: "10.244.1.2", protocol: "TCP", port: 81 }), "drop");
  assert.equal(runPlan(plan, { src: "10.9.1.1", dst: "10.244.1.2", protocol: "UDP", port: 53 }), "accept");
  // One of them open to everyone on the same ports: the merged rule matches no peer at all.
  const open = compilePolicies({ nodeName: "n1", pods, namespaces: NS, policies: [...policies, policy("x", "anyone", { podSelector: { matchLabels: { app: "web" } }, ingress: [{ ports: [{ protocol: "TCP", port: 80 }] }] })] });
  assert.match(open.chains.get("in-10.244.1.2")!.rules[1]!, /^meta l4proto \. th dport @\S+ accept$/);
  assert.equal(runPlan(open, { src: "10.244.2.60", dst: "10.244.1.2", protocol: "TCP", port: 80 }), "accept");
});

// Random worlds: the compiled tables of both nodes must agree with the evaluator on every connection.

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomWorld(r: () => number): { pods: Pod[]; namespaces: Namespace[]; policies: NetworkPolicy[] } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const namespaces: Namespace[] = ["x", "y", "z"].map((n) => ({ name: n, labels: r() < 0.5 ? { ns: n, team: pick(["red", "blue"]) } : ({ ns: n } as Record<string, string>) }));
  const pods: Pod[] = [];
  let host = 2;
  for (const ns of ["x", "y", "z"]) {
    for (const name of ["a", "b", "c"]) {
      const node = pick(["n1", "n2"]);
      const ip = `10.244.${node === "n1" ? 1 : 2}.${host++}`;
      const ports = servePorts().map((p) => (r() < 0.2 ? { ...p, port: p.port + 1000 } : p));
      pods.push(pod(ns, name, ip, { node, labels: r() < 0.3 ? { pod: name, tier: pick(["fe", "be"]) } : { pod: name }, ports }));
    }
  }
  const selector = (): LabelSelector =>
    pick<LabelSelector>([
      {},
      { matchLabels: { pod: pick(["a", "b", "c"]) } },
      { matchExpressions: [{ key: "pod", operator: pick(["In", "NotIn"] as const), values: [pick(["a", "b", "c"])] }] },
      { matchExpressions: [{ key: "tier", operator: pick(["Exists", "DoesNotExist"] as const), values: [] }] },
    ]);
  const nsSelector = (): LabelSelector => pick<LabelSelector>([{}, { matchLabels: { ns: pick(["x", "y", "z"]) } }, { matchLabels: { team: "red" } }, { matchExpressions: [{ key: "ns", operator: "NotIn", values: ["x"] }] }]);
  const peer = (): Peer => {
    const k = r();
    if (k < 0.3) return { podSelector: selector() };
    if (k < 0.55) return { namespaceSelector: nsSelector() };
    if (k < 0.8) return { podSelector: selector(), namespaceSelector: nsSelector() };
    return { ipBlock: { cidr: pick(["10.244.0.0/16", "10.244.1.0/24", "0.0.0.0/0"]), except: r() < 0.5 ? [pick(["10.244.1.0/28", "10.244.2.0/24", "10.244.1.4/32"])] : [] } };
  };
  const portRule = (): PolicyPort => {
    const protocol = pick<Protocol>(["TCP", "UDP", "SCTP"]);
    const k = r();
    if (k < 0.35) return { protocol, port: pick([80, 81]) };
    if (k < 0.6) return { protocol, port: `serve-${pick([80, 81])}-${protocol.toLowerCase()}` };
    if (k < 0.8) return { protocol, port: 80, endPort: pick([81, 1081]) };
    return { protocol };
  };
  const rule = (): PolicyRule => ({
    ...(r() < 0.7 && { peers: Array.from({ length: 1 + Math.floor(r() * 2) }, peer) }),
    ...(r() < 0.6 && { ports: Array.from({ length: 1 + Math.floor(r() * 2) }, portRule) }),
  });
  const policies: NetworkPolicy[] = [];
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const types = pick<NetworkPolicy["policyTypes"]>([undefined, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]);
    policies.push(
      policy(pick(["x", "y", "z"]), `p${i}`, {
        podSelector: selector(),
        ...(types && { policyTypes: types }),
        ingress: Array.from({ length: Math.floor(r() * 3) }, rule),
        egress: Array.from({ length: Math.floor(r() * 3) }, rule),
      }),
    );
  }
  return { pods, namespaces, policies };
}

test("compiled tables agree with the evaluator on 300 random worlds (every pod pair, protocol and port, and outside sources)", () => {
  let checked = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const world = randomWorld(rng(seed));
    const plans: Record<string, PolicyPlan> = { n1: compilePolicies({ ...world, nodeName: "n1" }), n2: compilePolicies({ ...world, nodeName: "n2" }) };
    const index = new PolicyIndex(world);
    const sources = [...world.pods.map((p) => ({ ip: p.ips[0]!, node: p.node as string | undefined })), { ip: "10.9.9.9", node: undefined }, { ip: "10.244.1.1", node: undefined }];
    for (const s of sources) {
      for (const d of world.pods) {
        for (const protocol of ["TCP", "UDP", "SCTP"] as Protocol[]) {
          for (const port of [80, 81, 1080]) {
            const c: Connection = { src: s.ip, dst: d.ips[0]!, protocol, port };
            const want = evaluate(index, c).allowed;
            let got = true;
            for (const node of new Set([s.node, d.node])) if (node && runPlan(plans[node]!, c) === "drop") got = false;
            if (got !== want) {
              assert.fail(`seed ${seed}: ${JSON.stringify(c)} evaluator ${want}, tables ${got}\npolicies ${JSON.stringify(world.policies)}\npods ${JSON.stringify(world.pods.map((p) => [p.namespace, p.name, p.ips[0], p.node, p.labels]))}\nns ${JSON.stringify(world.namespaces)}`);
            }
            checked++;
          }
        }
      }
    }
  }
  assert.ok(checked > 200_000);
});

test("traffic from this node's own addresses is accepted before any pod chain", () => {
  const pods = [pod("x", "a", "10.244.1.2")];
  const plan = compilePolicies({ nodeName: "n1", pods, namespaces: NS, policies: [policy("x", "deny")] });
  assert.equal(runPlan(plan, { src: "10.244.1.1", dst: "10.244.1.2", protocol: "TCP", port: 80 }, ["10.244.1.1"]), "accept");
  assert.equal(runPlan(plan, { src: "10.244.2.1", dst: "10.244.1.2", protocol: "TCP", port: 80 }, ["10.244.1.1"]), "drop");
});

test("diffs between consecutive random worlds turn one table into the next exactly; full syncs in place too", () => {
  let prev: PolicyPlan | undefined;
  let model: TableModel = { chains: new Map(), sets: new Map() };
  for (let seed = 1; seed <= 200; seed++) {
    const plan = compilePolicies({ ...randomWorld(rng(seed)), nodeName: "n1" });
    const tx = prev === undefined ? fullSync(plan, undefined, true) : seed % 10 === 0 ? fullSync(plan, prev, false) : diffPlans(prev, plan);
    applyToModel(model, tx);
    assert.deepEqual(model, planModel(plan), `seed ${seed}`);
    prev = plan;
  }
  model = planModel(prev!);
  applyToModel(model, diffPlans(prev!, prev!));
  assert.deepEqual(diffPlans(prev!, prev!).ops, []);
});

test("two local pods holding one address: the first is enforced, the other is a problem, and the maps stay valid", () => {
  const pods = [pod("x", "a", "10.244.1.2"), pod("x", "b", "10.244.1.2")];
  const plan = compilePolicies({ nodeName: "n1", pods, namespaces: NS, policies: [policy("x", "deny")] });
  assert.deepEqual(plan.sets.get(INGRESS_PODS)!.elements, [{ key: ["10.244.1.2"], value: "jump in-10.244.1.2" }]);
  assert.deepEqual(plan.problems, ["pods x/a and x/b both hold 10.244.1.2; only the first is enforced"]);
  assert.deepEqual(plan.pods.map((p) => p.name), ["a"]);
});

test("the table model takes element texts as the kernel does: one or several, a delete by key", () => {
  const model: TableModel = { chains: new Map(), sets: new Map([["m", new Map()]]) };
  const tx = new NftTransaction({ family: "inet", name: "weft-policy" });
  tx.addElements("m", ["10.244.0.2 : jump in-10.244.0.2, 10.244.0.3 : jump in-10.244.0.3", "10.244.0.4 : drop"]);
  tx.deleteElements("m", ["10.244.0.3 : jump in-10.244.0.3"]);
  applyToModel(model, tx);
  assert.deepEqual([...model.sets.get("m")!], [["10.244.0.2", "jump in-10.244.0.2"], ["10.244.0.4", "drop"]]);
  const again = new NftTransaction({ family: "inet", name: "weft-policy" }).addElements("m", ["10.244.0.4 : accept"]);
  assert.throws(() => applyToModel(model, again), /exists with another value/);
});
