import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { fullSync } from "./diff.ts";
import { splitElements } from "../kernel/nft/objects.ts";
import { FragmentMap, PlanCache, planProxy, planProxyChanged, planService, type PlanOptions, type ProxyPlan, type ServiceFragment } from "./plan.ts";
import { byService, ep, slice, svc } from "./testing.ts";
import type { EndpointSlice, Service } from "./types.ts";

const OPTS: PlanOptions = { nodeName: "n1", nodePodCidr: "10.244.1.0/24", clusterCidr: "10.244.0.0/16", serviceCidr: "10.96.0.0/12" };

function plan(s: Service, slices: EndpointSlice[] = []): ServiceFragment {
  return planService(s, slices, OPTS);
}
function elements(f: ServiceFragment, set: string): string[] {
  return splitElements(f.elements.get(set) ?? "");
}

const WEB = svc("default", "web", { clusterIPs: ["10.96.0.20"], ports: [{ name: "http", port: 80, targetPort: "http" }] });
const SVC = "svc-default/web/tcp/http";
const epChain = (ip: string, port: number) => `ep-default/web/tcp/http__${ip}/${port}`;

describe("planService: which endpoints get traffic", () => {
  const cases: { name: string; eps: ReturnType<typeof ep>[]; want: string[]; internal: string }[] = [
    { name: "all ready endpoints", eps: [ep("10.244.2.5"), ep("10.244.1.7")], want: ["10.244.1.7:8080", "10.244.2.5:8080"], internal: "forward" },
    { name: "not-ready endpoints get nothing", eps: [ep("10.244.2.5"), ep("10.244.1.7", { ready: false })], want: ["10.244.2.5:8080"], internal: "forward" },
    {
      name: "no ready one: serving-terminating ones are used",
      eps: [ep("10.244.2.5", { ready: false, serving: true, terminating: true }), ep("10.244.2.6", { ready: false, serving: false, terminating: true })],
      want: ["10.244.2.5:8080"],
      internal: "forward",
    },
    {
      name: "a ready endpoint wins over terminating ones",
      eps: [ep("10.244.2.5", { ready: false, serving: true, terminating: true }), ep("10.244.2.9")],
      want: ["10.244.2.9:8080"],
      internal: "forward",
    },
    { name: "no endpoints: refused", eps: [], want: [], internal: "reject" },
    { name: "only not-ready ones: refused", eps: [ep("10.244.2.5", { ready: false })], want: [], internal: "reject" },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const f = plan(WEB, [slice("default", "web", "web-1", ["http:8080"], c.eps)]);
      assert.deepEqual(f.ports[0]!.endpoints, c.want);
      assert.equal(f.ports[0]!.internal, c.internal);
      if (c.want.length) assert.deepEqual(elements(f, "service-ips"), [`10.96.0.20 . tcp . 80 : goto pick-cluster-tcp-${c.want.length}`]);
      else assert.deepEqual(elements(f, "no-endpoint-services"), ["10.96.0.20 . tcp . 80 : goto reject-chain"]);
      assert.deepEqual(elements(f, "cluster-ips"), ["10.96.0.20"]);
    });
  }
});

describe("planService: chains", () => {
  test("a ClusterIP port is map elements: a slot per endpoint, picked by numgen in the shared chain for N", () => {
    const f = plan(WEB, [slice("default", "web", "a", ["http:8080"], [ep("10.244.2.5"), ep("10.244.1.7")])]);
    assert.deepEqual(elements(f, "service-ips"), ["10.96.0.20 . tcp . 80 : goto pick-cluster-tcp-2"]);
    assert.deepEqual(elements(f, "endpoints-tcp"), ["10.96.0.20 . tcp . 80 . 0 : 10.244.1.7 . 8080", "10.96.0.20 . tcp . 80 . 1 : 10.244.2.5 . 8080"]);
    assert.deepEqual(elements(f, "hairpin"), ["10.244.1.7 . 10.244.1.7 . 10.96.0.20 . tcp . 8080", "10.244.2.5 . 10.244.2.5 . 10.96.0.20 . tcp . 8080"]);
    assert.equal(f.chains.size, 0);
    assert.deepEqual(f.shared, ["pick-cluster-tcp-2"]);
    const p = planProxy([WEB], new Map([["default/web", [slice("default", "web", "a", ["http:8080"], [ep("10.244.2.5"), ep("10.244.1.7")])]]]), OPTS);
    assert.deepEqual(p.baseChains.find((c) => c.chain.name === "pick-cluster-tcp-2")!.rules, [
      "ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
      "dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @endpoints-tcp",
    ]);
    assert.equal(p.baseChains.find((c) => c.chain.name === "masquerading")!.rules[0], "ip saddr . ip daddr . ct original ip daddr . meta l4proto . th dport @hairpin jump mark-for-masquerade");
  });

  test("one endpoint: slot 0 of the chain for one", () => {
    const f = plan(WEB, [slice("default", "web", "a", ["http:8080"], [ep("10.244.2.5")])]);
    assert.deepEqual(elements(f, "service-ips"), ["10.96.0.20 . tcp . 80 : goto pick-cluster-tcp-1"]);
    assert.deepEqual(elements(f, "endpoints-tcp"), ["10.96.0.20 . tcp . 80 . 0 : 10.244.2.5 . 8080"]);
  });

  test("a named targetPort takes each slice's number", () => {
    const f = plan(WEB, [
      slice("default", "web", "a", ["http:8080"], [ep("10.244.2.5")]),
      slice("default", "web", "b", ["http:9090", "other:1"], [ep("10.244.2.6")]),
      slice("default", "web", "c", ["metrics:9100"], [ep("10.244.2.7")]),
    ]);
    assert.deepEqual(f.ports[0]!.endpoints, ["10.244.2.5:8080", "10.244.2.6:9090"]);
  });

  test("multiple ports and protocols: one chain each, matched by name and protocol", () => {
    const dns = svc("kube-system", "kube-dns", {
      clusterIPs: ["10.96.0.10"],
      ports: [{ name: "dns", port: 53, protocol: "UDP" }, { name: "dns-tcp", port: 53, protocol: "TCP" }],
    });
    const f = plan(dns, [slice("kube-system", "kube-dns", "a", ["dns:5353/UDP", "dns-tcp:5354/TCP"], [ep("10.244.2.5")])]);
    assert.deepEqual(elements(f, "service-ips"), [
      "10.96.0.10 . udp . 53 : goto pick-cluster-udp-1",
      "10.96.0.10 . tcp . 53 : goto pick-cluster-tcp-1",
    ]);
    assert.deepEqual(f.ports.map((p) => p.endpoints), [["10.244.2.5:5353"], ["10.244.2.5:5354"]]);
    assert.deepEqual(elements(f, "endpoints-udp"), ["10.96.0.10 . udp . 53 . 0 : 10.244.2.5 . 5353"]);
    assert.deepEqual(elements(f, "endpoints-tcp"), ["10.96.0.10 . tcp . 53 . 0 : 10.244.2.5 . 5354"]);
  });

  test("ClientIP affinity: a dynamic set per endpoint, checked before numgen and updated on the way in", () => {
    const s = { ...WEB, sessionAffinity: "ClientIP" as const, affinityTimeoutSeconds: 30 };
    const f = plan(s, [slice("default", "web", "a", ["http:8080"], [ep("10.244.2.5"), ep("10.244.2.6")])]);
    const set5 = "aff-30-default/web/tcp/http__10.244.2.5/8080";
    assert.deepEqual(f.sets.map((x) => [x.name, x.flags, x.timeoutSeconds]), [[set5, ["dynamic", "timeout"], 30], ["aff-30-default/web/tcp/http__10.244.2.6/8080", ["dynamic", "timeout"], 30]]);
    const rules = f.chains.get(SVC)!;
    assert.equal(rules[1], `ip saddr @${set5} goto ${epChain("10.244.2.5", 8080)}`);
    assert.match(rules[3]!, /^numgen random mod 2 == 0 goto/);
    assert.deepEqual(f.chains.get(epChain("10.244.2.5", 8080))![1], `update @${set5} { ip saddr }`);
  });

  test("duplicate endpoints across slices fold into one", () => {
    const f = plan(WEB, [slice("default", "web", "a", ["http:8080"], [ep("10.244.2.5", { ready: false })]), slice("default", "web", "b", ["http:8080"], [ep("10.244.2.5")])]);
    assert.deepEqual(f.ports[0]!.endpoints, ["10.244.2.5:8080"]);
  });
});

describe("planService: traffic policies and external addresses", () => {
  const LOCAL = ep("10.244.1.5", { nodeName: "n1" });
  const REMOTE = ep("10.244.2.5", { nodeName: "n2" });
  const np = (o: Partial<Service>) => svc("default", "np", { type: "NodePort", clusterIPs: ["10.96.0.30"], ports: [{ name: "", port: 80, nodePort: 30080 }], ...o });
  const cases: {
    name: string;
    s: Service;
    eps: ReturnType<typeof ep>[];
    nodeports?: string[];
    noEndpointNodeports?: string[];
    noEndpoint?: string[];
    ext?: string[] | null;
    internal?: string;
    external?: string;
  }[] = [
    {
      name: "NodePort, cluster policy: masquerade and go to all endpoints",
      s: np({}),
      eps: [LOCAL, REMOTE],
      nodeports: ["tcp . 30080 : goto pick-extnp-tcp-2"],
      ext: null,
      external: "forward",
    },
    { name: "NodePort without endpoints: refused", s: np({}), eps: [], noEndpointNodeports: ["tcp . 30080 : goto reject-chain"], ext: null, external: "reject" },
    {
      name: "externalTrafficPolicy Local with a local endpoint: source kept, this node's pods and the node go cluster-wide",
      s: np({ externalTrafficPolicy: "Local" }),
      eps: [LOCAL, REMOTE],
      nodeports: ["tcp . 30080 : goto ext-default/np/tcp/80"],
      ext: ["ip saddr 10.244.1.0/24 goto svc-default/np/tcp/80", "fib saddr type local jump mark-for-masquerade", "fib saddr type local goto svc-default/np/tcp/80", "goto svl-default/np/tcp/80"],
      external: "forward",
    },
    {
      name: "externalTrafficPolicy Local without a local endpoint: others dropped",
      s: np({ externalTrafficPolicy: "Local" }),
      eps: [REMOTE],
      ext: ["ip saddr 10.244.1.0/24 goto svc-default/np/tcp/80", "fib saddr type local jump mark-for-masquerade", "fib saddr type local goto svc-default/np/tcp/80", "drop"],
      external: "drop",
    },
    { name: "internalTrafficPolicy Local without a local endpoint: dropped, not refused", s: np({ internalTrafficPolicy: "Local" }), eps: [REMOTE], noEndpoint: ["10.96.0.30 . tcp . 80 : drop"], internal: "drop" },
    { name: "internalTrafficPolicy Local with none anywhere: refused", s: np({ internalTrafficPolicy: "Local" }), eps: [], noEndpoint: ["10.96.0.30 . tcp . 80 : goto reject-chain"], internal: "reject" },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const f = plan(c.s, [slice("default", c.s.name, "a", [":80"], c.eps)]);
      if (c.nodeports) assert.deepEqual(elements(f, "service-nodeports"), c.nodeports);
      if (c.noEndpointNodeports) assert.deepEqual(elements(f, "no-endpoint-nodeports"), c.noEndpointNodeports);
      if (c.noEndpoint) assert.deepEqual(elements(f, "no-endpoint-services"), c.noEndpoint);
      if (c.ext !== undefined) assert.deepEqual(f.chains.get("ext-default/np/tcp/80") ?? null, c.ext);
      if (c.internal) assert.equal(f.ports[0]!.internal, c.internal);
      if (c.external) assert.equal(f.ports[0]!.external, c.external);
    });
  }

  test("internalTrafficPolicy Local sends ClusterIP traffic to this node's endpoints only", () => {
    const f = plan(np({ internalTrafficPolicy: "Local" }), [slice("default", "np", "a", [":80"], [LOCAL, REMOTE])]);
    assert.deepEqual(elements(f, "service-ips"), ["10.96.0.30 . tcp . 80 : goto pick-local-tcp-1"]);
    assert.deepEqual(elements(f, "endpoints-tcp"), ["10.96.0.30 . tcp . 80 . 0 : 10.244.1.5 . 80"]);
    // NodePort traffic still goes cluster-wide.
    assert.deepEqual(elements(f, "nodeport-endpoints-tcp"), ["tcp . 30080 . 0 : 10.244.1.5 . 80", "tcp . 30080 . 1 : 10.244.2.5 . 80"]);
  });

  test("health check node port: local endpoint count for externalTrafficPolicy Local", () => {
    const lb = np({ type: "LoadBalancer", externalTrafficPolicy: "Local", healthCheckNodePort: 32000 });
    assert.deepEqual(plan(lb, [slice("default", "np", "a", [":80"], [LOCAL, REMOTE])]).health, { port: 32000, localEndpoints: 1 });
    assert.deepEqual(plan(lb, [slice("default", "np", "a", [":80"], [REMOTE])]).health, { port: 32000, localEndpoints: 0 });
    assert.equal(plan({ ...lb, externalTrafficPolicy: "Cluster" }, []).health, undefined);
  });

  test("external IPs and VIP load-balancer IPs are captured, Proxy ones are not; source ranges guard LB IPs", () => {
    const lb = np({
      type: "LoadBalancer",
      externalIPs: ["192.168.125.50"],
      loadBalancerIngress: [{ ip: "192.168.125.60", ipMode: "VIP" }, { ip: "192.168.125.61", ipMode: "Proxy" }],
      loadBalancerSourceRanges: ["192.168.125.0/28", "10.0.0.0/8"],
    });
    const f = plan(lb, [slice("default", "np", "a", [":80"], [REMOTE])]);
    assert.deepEqual(elements(f, "service-ips"), [
      "10.96.0.30 . tcp . 80 : goto pick-cluster-tcp-1",
      "192.168.125.50 . tcp . 80 : goto pick-ext-tcp-1",
      "192.168.125.60 . tcp . 80 : goto pick-ext-tcp-1",
    ]);
    assert.deepEqual(elements(f, "firewall-ips"), ["192.168.125.60 . tcp . 80 : goto fw-default/np/tcp/80"]);
    assert.deepEqual(f.chains.get("fw-default/np/tcp/80"), ["ip saddr != { 192.168.125.0/28, 10.0.0.0/8 } drop"]);
  });
});

describe("planService: input the proxy leaves alone", () => {
  test("headless and ExternalName services get nothing", () => {
    const p = planProxy([svc("a", "headless", { ports: [{ port: 80 }] }), svc("a", "ext", { type: "ExternalName", ports: [{ port: 80 }] })], new Map(), OPTS);
    assert.equal(p.fragments.get("a/headless")!.chains.size, 0);
    assert.equal(p.fragments.get("a/headless")!.elements.size, 0);
    assert.equal(p.fragments.has("a/ext"), false);
  });

  test("bad addresses, ranges and ports are skipped with a problem, the rest is planned", () => {
    const bad = svc("a", "bad", { clusterIPs: ["10.96.0.40"], externalIPs: ["not-an-ip"], loadBalancerSourceRanges: ["nope"], ports: [{ port: 0 }, { port: 81, name: "ok" }] });
    const f = plan(bad, [slice("a", "bad", "s", ["ok:81"], [ep("999.1.1.1"), ep("10.244.2.5")])]);
    assert.equal(f.problems.length, 3);
    assert.match(f.problems.join("\n"), /externalIP "not-an-ip"/);
    assert.deepEqual(f.ports.map((p) => p.endpoints), [["10.244.2.5:81"]]);
  });

  test("bad options are refused", () => {
    assert.throws(() => planProxy([], new Map(), { ...OPTS, serviceCidr: "10.96.0.0/33" }), /service CIDR/);
  });
});

describe("planProxy", () => {
  test("a key two services claim goes to the first by name, with a problem", () => {
    const a = svc("ns", "a", { clusterIPs: ["10.96.0.1"], externalIPs: ["192.168.125.50"], ports: [{ port: 80 }] });
    const b = svc("ns", "b", { clusterIPs: ["10.96.0.2"], externalIPs: ["192.168.125.50"], ports: [{ port: 80 }] });
    const p = planProxy([b, a], new Map(), OPTS);
    assert.deepEqual(elements(p.fragments.get("ns/a")!, "no-endpoint-services").length, 2);
    assert.deepEqual(elements(p.fragments.get("ns/b")!, "no-endpoint-services").map((e) => e.split(" ")[0]), ["10.96.0.2"]);
    assert.match(p.problems.join(), /192\.168\.125\.50 \. tcp \. 80 is already used by service ns\/a/);
  });

  test("the cache reuses the fragment of a service whose inputs are the same objects", () => {
    const cache = new PlanCache();
    const s1 = slice("default", "web", "a", ["http:8080"], [ep("10.244.2.5")]);
    const p1 = planProxy([WEB], byService([s1]), OPTS, cache);
    const p2 = planProxy([WEB], byService([s1]), OPTS, cache);
    assert.equal(p2.fragments.get("default/web"), p1.fragments.get("default/web"));
    const p3 = planProxy([WEB], byService([{ ...s1 }]), OPTS, cache);
    assert.notEqual(p3.fragments.get("default/web"), p1.fragments.get("default/web"));
    assert.deepEqual(p3.fragments.get("default/web")!.chains, p1.fragments.get("default/web")!.chains);
  });

  test("base chains hook in before and after DNAT and masquerade marked packets", () => {
    const p = planProxy([], new Map(), OPTS);
    const hooks = p.baseChains.filter((c) => c.chain.base).map((c) => `${c.chain.name} ${c.chain.base!.type} ${c.chain.base!.hook} ${c.chain.base!.priority}`);
    assert.deepEqual(hooks, [
      "filter-prerouting filter prerouting -110",
      "filter-output filter output -110",
      "nat-prerouting nat prerouting -100",
      "nat-output nat output -100",
      "filter-prerouting-post-dnat filter prerouting -90",
      "filter-output-post-dnat filter output -90",
      "nat-postrouting nat postrouting 100",
    ]);
    assert.deepEqual(p.baseChains.find((c) => c.chain.name === "cluster-ips-check")!.rules, ["ip daddr @cluster-ips goto reject-chain", "ip daddr 10.96.0.0/12 drop"]);
  });
});

describe("planProxy: derived elements and incremental plans", () => {
  test("a map key another service holds takes its endpoint slots and hairpin entries with it", () => {
    const a = svc("ns", "a", { clusterIPs: ["10.96.0.1"], externalIPs: ["192.168.125.50"], ports: [{ port: 80 }] });
    const b = svc("ns", "b", { clusterIPs: ["10.96.0.2"], externalIPs: ["192.168.125.50"], ports: [{ port: 80 }] });
    const slices = byService([slice("ns", "a", "a1", [":80"], [ep("10.244.2.1")]), slice("ns", "b", "b1", [":80"], [ep("10.244.2.2")])]);
    const p = planProxy([a, b], slices, OPTS);
    const lost = p.fragments.get("ns/b")!;
    assert.deepEqual(elements(lost, "service-ips"), ["10.96.0.2 . tcp . 80 : goto pick-cluster-tcp-1"]);
    assert.deepEqual(elements(lost, "endpoints-tcp"), ["10.96.0.2 . tcp . 80 . 0 : 10.244.2.2 . 80"]);
    assert.deepEqual(elements(p.fragments.get("ns/a")!, "endpoints-tcp"), ["10.96.0.1 . tcp . 80 . 0 : 10.244.2.1 . 80", "192.168.125.50 . tcp . 80 . 0 : 10.244.2.1 . 80"]);
  });

  test("a ClusterIP key another service holds takes its hairpin entries, but not one a kept port shares", () => {
    // b's 10.96.0.2:80 is a's external IP and port; b's port 81 goes to the same target port 8080.
    const a = svc("ns", "a", { clusterIPs: ["10.96.0.1"], externalIPs: ["10.96.0.2"], ports: [{ port: 80, targetPort: 8080 }] });
    const b = svc("ns", "b", { clusterIPs: ["10.96.0.2"], ports: [{ name: "x", port: 80, targetPort: 8080 }, { name: "y", port: 81, targetPort: 8080 }] });
    const c = svc("ns", "c", { clusterIPs: ["10.96.0.3"], ports: [{ port: 80, targetPort: 8080 }] });
    const d = svc("ns", "d", { clusterIPs: ["10.96.0.1"], ports: [{ port: 80, targetPort: 8080 }] });
    const slices = byService([
      slice("ns", "a", "a1", [":8080"], [ep("10.244.2.1")]),
      slice("ns", "b", "b1", ["x:8080", "y:8080"], [ep("10.244.2.2")]),
      slice("ns", "c", "c1", [":8080"], [ep("10.244.2.3")]),
      slice("ns", "d", "d1", [":8080"], [ep("10.244.2.4")]),
    ]);
    const p = planProxy([a, b, c, d], slices, OPTS);
    const b2 = p.fragments.get("ns/b")!;
    assert.deepEqual(elements(b2, "service-ips"), ["10.96.0.2 . tcp . 81 : goto pick-cluster-tcp-1"]);
    assert.deepEqual(elements(b2, "hairpin"), ["10.244.2.2 . 10.244.2.2 . 10.96.0.2 . tcp . 8080"]);
    // d's only ClusterIP key is a's: its slot and its hairpin entry go with it.
    const d2 = p.fragments.get("ns/d")!;
    assert.deepEqual(elements(d2, "service-ips"), []);
    assert.deepEqual(elements(d2, "endpoints-tcp"), []);
    assert.deepEqual(elements(d2, "hairpin"), []);
    assert.deepEqual(elements(d2, "cluster-ips"), ["10.96.0.1"]);
  });

  /** A plan as the sorted lines of the script that builds it, with its problems. */
  const canonical = (p: ProxyPlan) => [...fullSync(p, undefined, true).tx.render().split("\n").flatMap((l) => l.startsWith("add element") ? l.slice(l.indexOf("{") + 2, -2).split(", ").map((e) => `${l.slice(0, l.indexOf("{"))}${e}`) : [l])].sort().join("\n") + "\n--\n" + [...p.problems].sort().join("\n");

  test("planProxyChanged plans the same table as planProxy, whatever the changes (clashes included)", () => {
    const names = ["a", "b", "c", "d"];
    const service = fc.record({
      name: fc.constantFrom(...names),
      ip: fc.integer({ min: 1, max: 5 }),
      external: fc.option(fc.constantFrom("192.168.125.50", "192.168.125.51"), { nil: undefined }),
      nodePort: fc.option(fc.constantFrom(30080, 30081), { nil: undefined }),
      itp: fc.constantFrom("Cluster", "Local"),
      etp: fc.constantFrom("Cluster", "Local"),
      affinity: fc.boolean(),
      ports: fc.constantFrom([80], [80, 81]),
    });
    const change = fc.oneof(
      service.map((s) => ({ op: "service" as const, s })),
      fc.record({ op: fc.constant("slice" as const), name: fc.constantFrom(...names), eps: fc.array(fc.record({ host: fc.integer({ min: 1, max: 6 }), local: fc.boolean(), ready: fc.boolean() }), { maxLength: 4 }) }),
      fc.record({ op: fc.constant("delete" as const), name: fc.constantFrom(...names) }),
    );
    fc.assert(
      fc.property(fc.array(change, { minLength: 1, maxLength: 25 }), (changes) => {
        const services = new Map<string, Service>();
        const slices = new Map<string, EndpointSlice[]>();
        const cache = new PlanCache();
        planProxy([], slices, OPTS, cache);
        for (const c of changes) {
          const key = `ns/${c.op === "service" ? c.s.name : c.name}`;
          if (c.op === "service") {
            const s = c.s;
            services.set(key, svc("ns", s.name, {
              type: s.nodePort ? "NodePort" : "ClusterIP",
              clusterIPs: [`10.96.0.${s.ip}`],
              externalIPs: s.external ? [s.external] : [],
              internalTrafficPolicy: s.itp as "Cluster" | "Local",
              externalTrafficPolicy: s.etp as "Cluster" | "Local",
              sessionAffinity: s.affinity ? "ClientIP" : "None",
              ports: s.ports.map((port, i) => ({ name: `p${port}`, port, ...(s.nodePort && i === 0 ? { nodePort: s.nodePort } : {}) })),
            }));
          } else if (c.op === "slice") {
            slices.set(key, [slice("ns", c.name, `${c.name}-1`, ["p80:8080", "p81:8081"], c.eps.map((e) => ep(`10.244.${e.local ? 1 : 2}.${e.host}`, { ready: e.ready, nodeName: e.local ? "n1" : "n2" })))]);
          } else {
            services.delete(key);
            slices.delete(key);
          }
          const inc = planProxyChanged([key], services, slices, OPTS, cache);
          const whole = planProxy(services.values(), slices, OPTS);
          assert.equal(canonical(inc), canonical(whole));
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("FragmentMap", () => {
  test("reads as a map with the changes applied, before and after it copies them into a new base", () => {
    const frag = (n: number) => ({ key: `k${n}` }) as unknown as ServiceFragment;
    const model = new Map<string, ServiceFragment>();
    for (let i = 0; i < 50; i++) model.set(`k${i}`, frag(i));
    let m = FragmentMap.of(new Map(model));
    for (let round = 0; round < 30; round++) {
      const changes = new Map<string, ServiceFragment | null>();
      for (let j = 0; j < 40; j++) {
        const k = `k${(round * 37 + j * 11) % 120}`;
        const v = (round + j) % 3 === 0 ? null : frag(round * 100 + j);
        changes.set(k, v);
      }
      m = m.with(changes);
      for (const [k, v] of changes) {
        if (v === null) model.delete(k);
        else model.set(k, v);
      }
      assert.equal(m.size, model.size);
      assert.deepEqual(new Map(m), model);
      assert.deepEqual([...m.keys()].sort(), [...model.keys()].sort());
      for (const k of ["k0", "k7", "k119", "nope"]) {
        assert.equal(m.get(k), model.get(k));
        assert.equal(m.has(k), model.has(k));
      }
    }
  });
});
