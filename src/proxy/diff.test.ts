import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { diffPlans, fullSync } from "./diff.ts";
import { PlanCache, planProxy, type PlanOptions, type ProxyPlan } from "./plan.ts";
import { byService, ep, slice, svc } from "./testing.ts";
import type { EndpointSlice, Service } from "./types.ts";

const OPTS: PlanOptions = { nodeName: "n1", nodePodCidr: "10.244.1.0/24", clusterCidr: "10.244.0.0/16", serviceCidr: "10.96.0.0/12" };
const WEB = svc("default", "web", { clusterIPs: ["10.96.0.20"], ports: [{ name: "http", port: 80 }] });
const OTHER = svc("default", "other", { clusterIPs: ["10.96.0.21"], ports: [{ port: 81 }] });
const web = (...ips: string[]) => slice("default", "web", "web-a", ["http:8080"], ips.map((ip) => ep(ip)));
const T = "ip weft-proxy";

/** Plans each state with one cache (as the proxy does) and returns the diff's script lines. */
function diffLines(a: [Service[], EndpointSlice[]], b: [Service[], EndpointSlice[]]): { lines: string[]; services: string[] } {
  const cache = new PlanCache();
  const p1 = planProxy(a[0], byService(a[1]), OPTS, cache);
  const p2 = planProxy(b[0], byService(b[1]), OPTS, cache);
  const { tx, services } = diffPlans(p1, p2);
  return { lines: tx.render().trim().split("\n").filter(Boolean), services };
}

describe("diffPlans", () => {
  const cases: { name: string; a: [Service[], EndpointSlice[]]; b: [Service[], EndpointSlice[]]; want: string[]; services: string[] }[] = [
    { name: "nothing changed: nothing to do", a: [[WEB, OTHER], [web("10.244.2.5")]], b: [[WEB, OTHER], [web("10.244.2.5")]], want: [], services: [] },
    {
      name: "an endpoint added: map elements, and the shared chain that picks one of two; the one that picked one of one stays",
      a: [[WEB, OTHER], [web("10.244.2.5")]],
      b: [[WEB, OTHER], [web("10.244.2.5", "10.244.2.6")]],
      want: [
        `add chain ${T} pick-cluster-tcp-2`,
        `delete element ${T} service-ips { 10.96.0.20 . tcp . 80 }`,
        `add rule ${T} pick-cluster-tcp-2 ip saddr != 10.244.0.0/16 jump mark-for-masquerade`,
        `add rule ${T} pick-cluster-tcp-2 dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @endpoints-tcp`,
        `add element ${T} service-ips { 10.96.0.20 . tcp . 80 : goto pick-cluster-tcp-2 }`,
        `add element ${T} endpoints-tcp { 10.96.0.20 . tcp . 80 . 1 : 10.244.2.6 . 8080 }`,
        `add element ${T} hairpin { 10.244.2.6 . 10.244.2.6 . 10.96.0.20 . tcp . 8080 }`,
      ],
      services: ["default/web"],
    },
    {
      name: "an endpoint replaced while another service keeps the shared chain: elements only",
      a: [[WEB, OTHER], [web("10.244.2.5", "10.244.2.6"), slice("default", "other", "o", [":81"], [ep("10.244.3.1"), ep("10.244.3.2")])]],
      b: [[WEB, OTHER], [web("10.244.2.5", "10.244.2.7"), slice("default", "other", "o", [":81"], [ep("10.244.3.1"), ep("10.244.3.2")])]],
      want: [
        `delete element ${T} endpoints-tcp { 10.96.0.20 . tcp . 80 . 1 }`,
        `delete element ${T} hairpin { 10.244.2.6 . 10.244.2.6 . 10.96.0.20 . tcp . 8080 }`,
        `add element ${T} endpoints-tcp { 10.96.0.20 . tcp . 80 . 1 : 10.244.2.7 . 8080 }`,
        `add element ${T} hairpin { 10.244.2.7 . 10.244.2.7 . 10.96.0.20 . tcp . 8080 }`,
      ],
      services: ["default/web"],
    },
    {
      name: "the last endpoint removed: elements move to the no-endpoint map, the unused shared chain stays",
      a: [[WEB], [web("10.244.2.5")]],
      b: [[WEB], [web()]],
      want: [
        `delete element ${T} service-ips { 10.96.0.20 . tcp . 80 }`,
        `delete element ${T} endpoints-tcp { 10.96.0.20 . tcp . 80 . 0 }`,
        `delete element ${T} hairpin { 10.244.2.5 . 10.244.2.5 . 10.96.0.20 . tcp . 8080 }`,
        `add element ${T} no-endpoint-services { 10.96.0.20 . tcp . 80 : goto reject-chain }`,
      ],
      services: ["default/web"],
    },
    {
      name: "a service added",
      a: [[WEB], []],
      b: [[WEB, OTHER], []],
      want: [`add element ${T} cluster-ips { 10.96.0.21 }`, `add element ${T} no-endpoint-services { 10.96.0.21 . tcp . 81 : goto reject-chain }`],
      services: ["default/other"],
    },
    {
      name: "a service removed",
      a: [[WEB, OTHER], []],
      b: [[WEB], []],
      want: [`delete element ${T} cluster-ips { 10.96.0.21 }`, `delete element ${T} no-endpoint-services { 10.96.0.21 . tcp . 81 }`],
      services: ["default/other"],
    },
    {
      name: "affinity timeout changed: new sets in, old sets out after the chains stop using them",
      a: [[{ ...WEB, sessionAffinity: "ClientIP", affinityTimeoutSeconds: 10 }], [web("10.244.2.5")]],
      b: [[{ ...WEB, sessionAffinity: "ClientIP", affinityTimeoutSeconds: 20 }], [web("10.244.2.5")]],
      want: [
        `add set ${T} aff-20-default/web/tcp/http__10.244.2.5/8080 { type ipv4_addr ; flags dynamic,timeout ; timeout 20s ; }`,
        `flush chain ${T} ep-default/web/tcp/http__10.244.2.5/8080`,
        `flush chain ${T} svc-default/web/tcp/http`,
        `add rule ${T} ep-default/web/tcp/http__10.244.2.5/8080 ip saddr 10.244.2.5 jump mark-for-masquerade`,
        `add rule ${T} ep-default/web/tcp/http__10.244.2.5/8080 update @aff-20-default/web/tcp/http__10.244.2.5/8080 { ip saddr }`,
        `add rule ${T} ep-default/web/tcp/http__10.244.2.5/8080 meta l4proto tcp dnat to 10.244.2.5:8080`,
        `add rule ${T} svc-default/web/tcp/http ip daddr 10.96.0.20 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade`,
        `add rule ${T} svc-default/web/tcp/http ip saddr @aff-20-default/web/tcp/http__10.244.2.5/8080 goto ep-default/web/tcp/http__10.244.2.5/8080`,
        `add rule ${T} svc-default/web/tcp/http goto ep-default/web/tcp/http__10.244.2.5/8080`,
        `delete set ${T} aff-10-default/web/tcp/http__10.244.2.5/8080`,
      ],
      services: ["default/web"],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = diffLines(c.a, c.b);
      assert.deepEqual(got.lines, c.want);
      assert.deepEqual(got.services, c.services);
    });
  }

  test("a kept pick chain is reused as it is, and a full sync deletes it", () => {
    const cache = new PlanCache();
    const one = planProxy([WEB], byService([web("10.244.2.5")]), OPTS, cache);
    const two = planProxy([WEB], byService([web("10.244.2.5", "10.244.2.6")]), OPTS, cache);
    const up = diffPlans(one, two);
    assert.deepEqual([...up.kept], ["pick-cluster-tcp-1"]);
    const back = planProxy([WEB], byService([web("10.244.2.5")]), OPTS, cache);
    const down = diffPlans(two, back, undefined, up.kept);
    assert.deepEqual([...down.kept], ["pick-cluster-tcp-2"]);
    assert.deepEqual(down.tx.render().trim().split("\n").filter((l) => /chain|rule/.test(l)), [], "pick-cluster-tcp-1 is there already, with its rules");
    assert.ok(down.tx.render().includes(`add element ${T} service-ips { 10.96.0.20 . tcp . 80 : goto pick-cluster-tcp-1 }`));
    const full = fullSync(back, back, false, down.kept);
    assert.deepEqual(full.kept, new Set());
    const lines = full.tx.render().split("\n");
    assert.ok(lines.includes(`delete chain ${T} pick-cluster-tcp-2`));
    assert.ok(!lines.includes(`delete chain ${T} pick-cluster-tcp-1`));
  });

  test("a port's element whose value changes is deleted then added", () => {
    const got = diffLines([[WEB], [web()]], [[WEB], [web("10.244.2.5")]]);
    const i = got.lines.indexOf(`delete element ${T} no-endpoint-services { 10.96.0.20 . tcp . 80 }`);
    const j = got.lines.indexOf(`add element ${T} service-ips { 10.96.0.20 . tcp . 80 : goto pick-cluster-tcp-1 }`);
    const k = got.lines.indexOf(`add chain ${T} pick-cluster-tcp-1`);
    assert.ok(k >= 0 && k < i && i < j, got.lines.join("\n"));
  });
});

describe("fullSync", () => {
  const plan = (s: Service[], sl: EndpointSlice[]): ProxyPlan => planProxy(s, byService(sl), OPTS);

  test("declares, empties and refills everything; affinity sets are kept", () => {
    const lines = fullSync(plan([{ ...WEB, sessionAffinity: "ClientIP" }], [web("10.244.2.5")]), undefined, false).tx.render().split("\n");
    assert.equal(lines[0], `add table ${T}`);
    assert.ok(lines.includes(`flush map ${T} service-ips`));
    assert.ok(lines.includes(`flush set ${T} cluster-ips`));
    assert.ok(lines.includes(`flush chain ${T} svc-default/web/tcp/http`));
    assert.ok(!lines.some((l) => l.startsWith(`flush set ${T} aff-`)), "affinity survives a resync");
    assert.ok(lines.includes(`add element ${T} service-ips { 10.96.0.20 . tcp . 80 : goto svc-default/web/tcp/http }`));
  });

  test("deletes the previous plan's chains and sets that are gone", () => {
    const prev = plan([{ ...WEB, sessionAffinity: "ClientIP" }], [web("10.244.2.5")]);
    const lines = fullSync(plan([WEB], []), prev, false).tx.render().split("\n");
    assert.ok(lines.includes(`delete chain ${T} ep-default/web/tcp/http__10.244.2.5/8080`));
    assert.ok(lines.includes(`delete set ${T} aff-10800-default/web/tcp/http__10.244.2.5/8080`));
    assert.ok(lines.indexOf(`flush chain ${T} svc-default/web/tcp/http`) < lines.indexOf(`delete chain ${T} svc-default/web/tcp/http`));
  });

  test("rebuild starts from a deleted table and flushes nothing", () => {
    const lines = fullSync(plan([WEB], [web("10.244.2.5")]), undefined, true).tx.render().split("\n");
    assert.deepEqual(lines.slice(0, 3), [`add table ${T}`, `delete table ${T}`, `add table ${T}`]);
    assert.ok(!lines.some((l) => l.startsWith("flush")));
  });
});
