/**
 * NetworkPolicy's truth table, in the upstream tests' design: namespaces
 * x, y, z with pods a, b, c each (labels pod: <name>), every pod serving
 * TCP, UDP and SCTP on 80 and 81 (named serve-80-tcp, ...), spread over two
 * nodes (policy-topology.ts: real controllers and service proxies), once
 * over each backend (host-gw routes, vxlan). For each case, every pod
 * probes every pod by pod IP and by its Service IP, and the 9×9 matrices
 * are compared with the ones a small evaluator of the API rules, written
 * here and independent of src/policy, expects. A failed case prints both
 * matrices.
 *
 * Probes run all at once from every pod (a 1.2 s timeout); cells that
 * disagree are probed again with 3 s before the case fails, so a loaded
 * machine does not turn a slow answer into a "blocked" one.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { PolicyLab, type LabPod, type NodeName } from "./policy-topology.ts";
import { ep, slice, svc } from "../../src/proxy/testing.ts";
import type { ContainerPort, Namespace, NetworkPolicy, Pod, PolicyPort, PolicyRule, Protocol } from "../../src/policy/types.ts";

// ---- the test's own reading of the API rules -------------------------------------------------

type Sel = { matchLabels?: Readonly<Record<string, string>>; matchExpressions?: readonly { key: string; operator: string; values: readonly string[] }[] };

function selects(s: Sel, labels: Record<string, string>): boolean {
  const okLabels = Object.entries(s.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const okExprs = (s.matchExpressions ?? []).every((e) => {
    const v = Object.hasOwn(labels, e.key) ? labels[e.key] : undefined;
    if (e.operator === "In") return v !== undefined && e.values.includes(v);
    if (e.operator === "NotIn") return v === undefined || !e.values.includes(v);
    if (e.operator === "Exists") return v !== undefined;
    return v === undefined;
  });
  return okLabels && okExprs;
}

function ipNum(ip: string): number {
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}
function inCidr(ip: string, cidr: string): boolean {
  const [base, len] = cidr.split("/");
  const size = 2 ** (32 - Number(len));
  const start = Math.floor(ipNum(base!) / size) * size;
  return ipNum(ip) >= start && ipNum(ip) < start + size;
}

interface World {
  pods: Pod[];
  namespaces: Map<string, Record<string, string>>;
  policies: NetworkPolicy[];
}

function peerOk(w: World, policyNs: string, rule: PolicyRule, other: Pod): boolean {
  if (!rule.peers || rule.peers.length === 0) return true;
  return rule.peers.some((p) => {
    if (p.ipBlock) return inCidr(other.ips[0]!, p.ipBlock.cidr) && !p.ipBlock.except.some((e) => inCidr(other.ips[0]!, e));
    const nsOk = p.namespaceSelector ? selects(p.namespaceSelector, w.namespaces.get(other.namespace) ?? {}) : other.namespace === policyNs;
    const podOk = p.podSelector ? selects(p.podSelector, other.labels) : true;
    return nsOk && podOk;
  });
}

function portOk(rule: PolicyRule, dst: Pod, proto: Protocol, port: number): boolean {
  if (!rule.ports || rule.ports.length === 0) return true;
  return rule.ports.some((p: PolicyPort) => {
    if (p.protocol !== proto) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === "string") return dst.ports.some((cp) => cp.name === p.port && cp.protocol === proto && cp.port === port);
    return p.endPort ? port >= p.port && port <= p.endPort : port === p.port;
  });
}

function types(p: NetworkPolicy): Protocol[] | string[] {
  return p.policyTypes?.length ? [...p.policyTypes] : p.egress.length ? ["Ingress", "Egress"] : ["Ingress"];
}

function expected(w: World, from: Pod, to: Pod, proto: Protocol, port: number): boolean {
  if (from === to) return true;
  const egress = w.policies.filter((p) => p.namespace === from.namespace && selects(p.podSelector, from.labels) && types(p).includes("Egress" as never));
  const ingress = w.policies.filter((p) => p.namespace === to.namespace && selects(p.podSelector, to.labels) && types(p).includes("Ingress" as never));
  const eOk = egress.length === 0 || egress.some((p) => p.egress.some((r) => peerOk(w, p.namespace, r, to) && portOk(r, to, proto, port)));
  const iOk = ingress.length === 0 || ingress.some((p) => p.ingress.some((r) => peerOk(w, p.namespace, r, from) && portOk(r, to, proto, port)));
  return eOk && iOk;
}

// ---- the cluster -----------------------------------------------------------------------------

const NS = ["x", "y", "z"];
const NAMES = ["a", "b", "c"];
const PROTOCOLS: Protocol[] = ["TCP", "UDP", "SCTP"];
const PORTS = [80, 81];

function servePorts(): ContainerPort[] {
  return [...PORTS, 53].flatMap((port) => PROTOCOLS.map((protocol) => ({ name: `serve-${port}-${protocol.toLowerCase()}`, port, protocol })));
}

interface Case {
  name: string;
  /** Changes to make before probing (policies, namespace and pod labels). */
  apply: (w: World, lab: Changes) => void;
  /** Extra ports to probe (e.g. 53 for DNS). */
  ports?: number[];
}

interface Changes {
  policy(p: Partial<NetworkPolicy> & { namespace: string; name: string }): void;
  deletePolicy(namespace: string, name: string): void;
  namespaceLabels(name: string, labels: Record<string, string>): void;
  podLabels(namespace: string, name: string, labels: Record<string, string>): void;
}

const pol = (namespace: string, name: string, o: Partial<NetworkPolicy>): NetworkPolicy => ({ namespace, name, podSelector: {}, ingress: [], egress: [], ...o });
const podSel = (name: string) => ({ matchLabels: { pod: name } });
const nsSel = (name: string) => ({ matchLabels: { "kubernetes.io/metadata.name": name } });

const CASES: Case[] = [
  { name: "no policies: everything reaches everything", apply: () => {} },
  { name: "default-deny ingress in x", apply: (_w, c) => c.policy(pol("x", "deny-in", { policyTypes: ["Ingress"] })) },
  { name: "default-deny egress in x (ingress deny replaced)", apply: (_w, c) => { c.deletePolicy("x", "deny-in"); c.policy(pol("x", "deny-eg", { policyTypes: ["Egress"] })); } },
  { name: "default-deny both in x", apply: (_w, c) => { c.deletePolicy("x", "deny-eg"); c.policy(pol("x", "deny-all", { policyTypes: ["Ingress", "Egress"] })); } },
  { name: "allow-all ingress and egress stacked on default-deny in x", apply: (_w, c) => c.policy(pol("x", "allow-all", { policyTypes: ["Ingress", "Egress"], ingress: [{}], egress: [{}] })) },
  { name: "x/a: ingress from pod b of x only (podSelector peer)", apply: (_w, c) => { c.deletePolicy("x", "deny-all"); c.deletePolicy("x", "allow-all"); c.policy(pol("x", "a-from-b", { podSelector: podSel("a"), ingress: [{ peers: [{ podSelector: podSel("b") }] }] })); } },
  { name: "x/a: ingress from namespace y (namespaceSelector peer)", apply: (_w, c) => { c.deletePolicy("x", "a-from-b"); c.policy(pol("x", "a-from-y", { podSelector: podSel("a"), ingress: [{ peers: [{ namespaceSelector: nsSel("y") }] }] })); } },
  { name: "x/a: ingress from pods b in namespace y (both in one peer: AND)", apply: (_w, c) => { c.deletePolicy("x", "a-from-y"); c.policy(pol("x", "a-from-yb", { podSelector: podSel("a"), ingress: [{ peers: [{ namespaceSelector: nsSel("y"), podSelector: podSel("b") }] }] })); } },
  { name: "x/a: ingress from pod b of x or namespace y (two peers: OR)", apply: (_w, c) => { c.deletePolicy("x", "a-from-yb"); c.policy(pol("x", "a-from-b-or-y", { podSelector: podSel("a"), ingress: [{ peers: [{ podSelector: podSel("b") }, { namespaceSelector: nsSel("y") }] }] })); } },
  { name: "x: ingress on named port serve-81-tcp from everywhere", apply: (_w, c) => { c.deletePolicy("x", "a-from-b-or-y"); c.policy(pol("x", "named", { ingress: [{ ports: [{ protocol: "TCP", port: "serve-81-tcp" }] }] })); } },
  { name: "x: TCP 80-81 (endPort) from namespace y, UDP 81 from all", apply: (_w, c) => { c.deletePolicy("x", "named"); c.policy(pol("x", "range", { ingress: [{ peers: [{ namespaceSelector: nsSel("y") }], ports: [{ protocol: "TCP", port: 80, endPort: 81 }] }, { ports: [{ protocol: "UDP", port: 81 }] }] })); } },
  { name: "x: an SCTP-only rule on 80 opens SCTP 80 and not TCP or UDP", apply: (_w, c) => { c.deletePolicy("x", "range"); c.policy(pol("x", "sctp", { ingress: [{ ports: [{ protocol: "SCTP", port: 80 }] }] })); } },
  { name: "x: UDP on every port (protocol without port) from z", apply: (_w, c) => { c.deletePolicy("x", "sctp"); c.policy(pol("x", "udp", { ingress: [{ peers: [{ namespaceSelector: nsSel("z") }], ports: [{ protocol: "UDP" }] }] })); } },
  { name: "x: ipBlock 10.244.0.0/16 except node n2's pod subnet", apply: (_w, c) => { c.deletePolicy("x", "udp"); c.policy(pol("x", "block", { ingress: [{ peers: [{ ipBlock: { cidr: "10.244.0.0/16", except: ["10.244.2.0/24"] } }] }] })); } },
  { name: "x: egress to DNS (53) anywhere and to namespace y on 80", ports: [53], apply: (_w, c) => { c.deletePolicy("x", "block"); c.policy(pol("x", "dns", { policyTypes: ["Egress"], egress: [{ ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] }, { peers: [{ namespaceSelector: nsSel("y") }], ports: [{ protocol: "TCP", port: 80 }, { protocol: "UDP", port: 80 }, { protocol: "SCTP", port: 80 }] }] })); } },
  { name: "stacked: y/b from x on TCP 80, and from z on UDP 81 (union)", apply: (_w, c) => { c.deletePolicy("x", "dns"); c.policy(pol("y", "b-x", { podSelector: podSel("b"), ingress: [{ peers: [{ namespaceSelector: nsSel("x") }], ports: [{ protocol: "TCP", port: 80 }] }] })); c.policy(pol("y", "b-z", { podSelector: podSel("b"), ingress: [{ peers: [{ namespaceSelector: nsSel("z") }], ports: [{ protocol: "UDP", port: 81 }] }] })); } },
  { name: "egress and ingress both needed: x/a egress only to y/b; y/b ingress only from x/c", apply: (_w, c) => { c.deletePolicy("y", "b-x"); c.deletePolicy("y", "b-z"); c.policy(pol("x", "a-to-yb", { podSelector: podSel("a"), policyTypes: ["Egress"], egress: [{ peers: [{ namespaceSelector: nsSel("y"), podSelector: podSel("b") }] }] })); c.policy(pol("y", "b-from-xc", { podSelector: podSel("b"), ingress: [{ peers: [{ namespaceSelector: nsSel("x"), podSelector: podSel("c") }] }] })); } },
  { name: "a policy updated in place: y/b now from x/a instead of x/c", apply: (_w, c) => c.policy(pol("y", "b-from-xc", { podSelector: podSel("b"), ingress: [{ peers: [{ namespaceSelector: nsSel("x"), podSelector: podSel("a") }] }] })) },
  { name: "egress rules without policyTypes isolate ingress too (z/c)", apply: (_w, c) => { c.deletePolicy("x", "a-to-yb"); c.deletePolicy("y", "b-from-xc"); c.policy(pol("z", "c-eg", { podSelector: podSel("c"), egress: [{ peers: [{ namespaceSelector: nsSel("y") }] }] })); } },
  { name: "namespace selector by team; namespace z relabelled into the team", apply: (_w, c) => { c.deletePolicy("z", "c-eg"); c.policy(pol("x", "team", { ingress: [{ peers: [{ namespaceSelector: { matchLabels: { team: "blue" } } }] }] })); c.namespaceLabels("y", { team: "blue" }); } },
  { name: "… and z joins team blue", apply: (_w, c) => c.namespaceLabels("z", { team: "blue" }) },
  { name: "pod relabelled: y/b becomes pod=a and meets x's pod-a-only policy", apply: (_w, c) => { c.deletePolicy("x", "team"); c.namespaceLabels("y", {}); c.namespaceLabels("z", {}); c.policy(pol("x", "from-pod-a", { ingress: [{ peers: [{ namespaceSelector: {}, podSelector: podSel("a") }] }] })); c.podLabels("y", "b", { pod: "a" }); } },
  { name: "matchExpressions: x ingress from pods NotIn [a] of namespaces that have a name label", apply: (_w, c) => { c.deletePolicy("x", "from-pod-a"); c.podLabels("y", "b", { pod: "b" }); c.policy(pol("x", "exprs", { ingress: [{ peers: [{ podSelector: { matchExpressions: [{ key: "pod", operator: "NotIn", values: ["a"] }] }, namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "Exists", values: [] }] } }] }] })); } },
  { name: "egress ipBlock with except: x to 10.244.0.0/16 except y/c's /32", apply: (w, c) => { c.deletePolicy("x", "exprs"); const yc = w.pods.find((p) => p.namespace === "y" && p.name === "c")!; c.policy(pol("x", "eg-block", { policyTypes: ["Egress"], egress: [{ peers: [{ ipBlock: { cidr: "10.244.0.0/16", except: [`${yc.ips[0]}/32`] } }] }] })); } },
  { name: "egress named port serve-80-udp to all of z", apply: (_w, c) => { c.deletePolicy("x", "eg-block"); c.policy(pol("x", "eg-named", { policyTypes: ["Egress"], egress: [{ peers: [{ namespaceSelector: nsSel("z") }], ports: [{ protocol: "UDP", port: "serve-80-udp" }] }] })); } },
  { name: "policies deleted: everything reaches everything again", apply: (_w, c) => c.deletePolicy("x", "eg-named") },
];

// ---- the run ---------------------------------------------------------------------------------

function svcIp(i: number): string {
  return `10.96.0.${100 + i}`;
}

function matrix(title: string, cell: (from: number, to: number) => boolean, pods: Pod[]): string {
  const names = pods.map((p) => `${p.namespace}/${p.name}`);
  const lines = [`${title}`, `       ${names.join(" ")}`];
  for (let i = 0; i < pods.length; i++) lines.push(`  ${names[i]}  ${pods.map((_, j) => (cell(i, j) ? " . " : " X ")).join(" ")}`);
  return lines.join("\n");
}

for (const backend of ["host-gw", "vxlan"]) describe(`network policy truth table (${backend}): 3 namespaces × 3 pods on two nodes, TCP/UDP/SCTP 80/81, by pod IP and Service IP`, { timeout: 600_000 }, () => {
  let lab: PolicyLab;
  const world: World = { pods: [], namespaces: new Map(), policies: [] };
  const labPods: LabPod[] = [];

  const podMsg = (p: Pod) => ({ op: "pod", pod: p });
  const nsMsg = (name: string) => ({ op: "namespace", namespace: { name, labels: world.namespaces.get(name)! } satisfies Namespace });

  before(async () => {
    lab = new PolicyLab(backend === "vxlan" ? "ttv" : "tth");
    await lab.connect(backend);
    lab.start({}, { clusterCidr: "10.244.0.0/16", serviceCidr: "10.96.0.0/12", minSyncIntervalMs: 10 });
    let i = 0;
    for (const ns of NS) {
      world.namespaces.set(ns, {});
      for (const name of NAMES) {
        const node: NodeName = i % 2 === 0 ? "n1" : "n2";
        const lp = lab.addPod(node, `${ns}${name}`);
        labPods.push(lp);
        world.pods.push({ namespace: ns, name, labels: { pod: name }, ips: [lp.ip], node, hostNetwork: false, ports: servePorts() });
        i++;
      }
    }
    await Promise.all(labPods.map((lp, j) => lab.serve(lp, `${world.pods[j]!.namespace}-${world.pods[j]!.name}`, [...PORTS, 53])));
    for (const ns of NS) lab.send(nsMsg(ns));
    for (const p of world.pods) lab.send(podMsg(p));
    // One Service per pod, every protocol on 80 and 81.
    world.pods.forEach((p, j) => {
      const ports = PORTS.flatMap((port) => PROTOCOLS.map((protocol) => ({ name: `p${port}-${protocol.toLowerCase()}`, port, protocol })));
      lab.send({ op: "service", service: svc(p.namespace, `s-${p.name}`, { clusterIPs: [svcIp(j)], ports }) });
      lab.send({ op: "slice", slice: slice(p.namespace, `s-${p.name}`, `s-${p.name}-1`, ports.map((x) => `${x.name}:${x.port}/${x.protocol}`), [ep(p.ips[0]!, { nodeName: p.node })]) });
    });
    lab.send({ op: "synced" });
    await lab.sync();
  });
  after(async () => {
    await lab?.dispose();
  });

  const changes: Changes = {
    policy(p) {
      const full = pol(p.namespace, p.name, p);
      world.policies = world.policies.filter((q) => !(q.namespace === p.namespace && q.name === p.name)).concat(full);
      lab.send({ op: "policy", policy: full });
    },
    deletePolicy(namespace, name) {
      world.policies = world.policies.filter((q) => !(q.namespace === namespace && q.name === name));
      lab.send({ op: "delete-policy", namespace, name });
    },
    namespaceLabels(name, labels) {
      world.namespaces.set(name, labels);
      lab.send(nsMsg(name));
    },
    podLabels(namespace, name, labels) {
      const i = world.pods.findIndex((p) => p.namespace === namespace && p.name === name);
      world.pods[i] = { ...world.pods[i]!, labels };
      lab.send(podMsg(world.pods[i]!));
    },
  };

  for (const c of CASES) {
    test(c.name, async () => {
      c.apply(world, changes);
      // The API server labels every namespace with its name.
      const nsLabels = new Map([...world.namespaces].map(([n, l]) => [n, { ...l, "kubernetes.io/metadata.name": n }]));
      const w: World = { ...world, namespaces: nsLabels };
      for (const ns of NS) lab.send({ op: "namespace", namespace: { name: ns, labels: nsLabels.get(ns)! } });
      await lab.sync();
      const ports = [...PORTS, ...(c.ports ?? [])];
      const target = (proto: Protocol, j: number, port: number, viaService: boolean) => `${proto.toLowerCase()}:${viaService ? svcIp(j) : world.pods[j]!.ips[0]}:${port}`;
      const combos = ports.flatMap((port) => PROTOCOLS.map((proto) => ({ proto, port })));
      const viaServiceCombos = combos.filter((x) => x.port !== 53);
      const targetsOf = () => world.pods.map((_, j) => j);
      const all = (i: number) => [
        ...combos.flatMap(({ proto, port }) => targetsOf().map((j) => target(proto, j, port, false))),
        ...viaServiceCombos.flatMap(({ proto, port }) => targetsOf().map((j) => target(proto, j, port, true))),
      ].filter((t) => i >= 0 && t !== "");
      const observed = await Promise.all(labPods.map((lp, i) => lab.probe(lp, 1200, all(i))));
      const want = (i: number, t: string) => {
        const [proto, host, port] = t.split(":");
        const j = host!.startsWith("10.96.") ? Number(host!.split(".")[3]) - 100 : world.pods.findIndex((p) => p.ips[0] === host);
        return expected(w, world.pods[i]!, world.pods[j]!, proto!.toUpperCase() as Protocol, Number(port));
      };
      // Recheck disagreeing cells once, slowly.
      await Promise.all(
        labPods.map(async (lp, i) => {
          const wrong = Object.keys(observed[i]!).filter((t) => observed[i]![t] !== want(i, t));
          if (wrong.length === 0) return;
          Object.assign(observed[i]!, await lab.probe(lp, 3000, wrong));
        }),
      );
      const report: string[] = [];
      for (const viaService of [false, true]) {
        for (const { proto, port } of viaService ? viaServiceCombos : combos) {
          const obs = (i: number, j: number) => observed[i]![target(proto, j, port, viaService)]!;
          const exp = (i: number, j: number) => want(i, target(proto, j, port, viaService));
          let same = true;
          for (let i = 0; i < 9; i++) for (let j = 0; j < 9; j++) if (obs(i, j) !== exp(i, j)) same = false;
          if (!same) {
            const what = `${proto}/${port} by ${viaService ? "Service IP" : "pod IP"}`;
            report.push(matrix(`expected ${what} (rows from, columns to; . allowed, X blocked)`, exp, world.pods), matrix(`observed ${what}`, obs, world.pods));
          }
        }
      }
      if (report.length) assert.fail(`${c.name}\n${report.join("\n")}\n--- n1 log:\n${lab.log("n1").slice(-2000)}`);
    });
  }

  test("the drop counters counted what the cases blocked", async () => {
    const m = await lab.ask("n1", "metrics");
    const dropped = /weft_policy_dropped_packets_total\{direction="ingress"\} (\d+)/.exec(m.text as string);
    assert.ok(dropped && Number(dropped[1]) > 0, `ingress drops counted:\n${m.text}`);
  });
});
