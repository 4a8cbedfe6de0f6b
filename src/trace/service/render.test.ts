import { test } from "node:test";
import assert from "node:assert/strict";
import { broken, ok } from "../hop.ts";
import type { TraceReport } from "../path.ts";
import { renderServiceTrace } from "./render.ts";
import type { ServiceTraceReport } from "./trace.ts";

const base = {
  lab: "demo", from: { pod: "cli", ip: "10.244.1.2", node: "node1" },
  service: { namespace: "default", name: "web", clusterIP: "10.96.0.40", port: "http 80/TCP" }, target: "10.96.0.40:80/TCP",
};

test("translated: the steps, the endpoint and how it was known, the pod path, the verdict", () => {
  const path: TraceReport = {
    lab: "demo", backend: "vxlan", from: { pod: "cli", ip: "10.244.1.2", node: "node1" }, to: { pod: "web2", ip: "10.244.1.3", node: "node1" },
    sameNode: true, hops: [ok("pod cli", "eth0", "10.244.1.2/24, up")], complete: true, brokenAt: null,
  };
  const r: ServiceTraceReport = {
    ...base, verdict: "dnat", endpoint: { ip: "10.244.1.3", port: 8080, pod: "default/web2", node: "node1", chosenBy: "conntrack" },
    hops: [ok("api", "service", "default/web"), ok("node1", "proxy map", "service-ips: 10.96.0.40 . tcp . 80 → goto svc-x")],
    path, pathNote: null, summary: "10.96.0.40:80/TCP is translated to 10.244.1.3:8080", complete: true, brokenAt: null,
  };
  assert.equal(renderServiceTrace(r), [
    "trace pod cli (10.244.1.2) → service default/web 10.96.0.40:80/TCP: from node1, lab demo",
    "",
    "✓  1  api    service    default/web",
    "✓  2  node1  proxy map  service-ips: 10.96.0.40 . tcp . 80 → goto svc-x",
    "",
    "DNAT → 10.244.1.3:8080 (pod default/web2 on node1): the kernel's choice for the probe, read from conntrack",
    "",
    "trace pod cli (10.244.1.2) → pod web2 (10.244.1.3): both on node1, lab demo, backend vxlan",
    "",
    "✓  1  pod cli  eth0  10.244.1.2/24, up",
    "",
    "path complete: 1 hops from pod cli to pod web2",
    "",
    "service reached: 10.96.0.40:80/TCP is translated to 10.244.1.3:8080",
    "",
  ].join("\n"));
});

test("refused: missing and fix under the broken step, no endpoint, no path", () => {
  const r: ServiceTraceReport = {
    ...base, verdict: "refused", endpoint: null, path: null, pathNote: null, complete: false, brokenAt: 1,
    hops: [broken("node1", "proxy map", "no-endpoint-services: … → goto reject-chain", "a ready endpoint", "give the Service one")],
    summary: "10.96.0.40:80/TCP is refused",
  };
  assert.equal(renderServiceTrace(r), [
    "trace pod cli (10.244.1.2) → service default/web 10.96.0.40:80/TCP: from node1, lab demo",
    "",
    "✗  1  node1  proxy map  no-endpoint-services: … → goto reject-chain",
    "       missing: a ready endpoint",
    "       fix:     give the Service one",
    "",
    "service not reached: 10.96.0.40:80/TCP is refused",
    "",
  ].join("\n"));
});
