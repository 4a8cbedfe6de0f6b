import { test } from "node:test";
import assert from "node:assert/strict";
import { broken, ok, unknown } from "./hop.ts";
import type { TraceReport } from "./path.ts";
import { renderTrace } from "./render.ts";

const base = { lab: "demo", backend: "vxlan", from: { pod: "a", ip: "10.244.1.2", node: "node1" }, to: { pod: "c", ip: "10.244.2.2", node: "node2" }, sameNode: false };

test("a complete path: one line per hop, columns aligned, and the verdict", () => {
  const r: TraceReport = { ...base, hops: [ok("pod a", "eth0", "10.244.1.2/24, up"), ok("node1", "bridge weft0", "10.244.1.1/24, up", ["hairpin off"])], complete: true, brokenAt: null };
  assert.equal(
    renderTrace(r),
    [
      "trace pod a (10.244.1.2) → pod c (10.244.2.2): node1 → node2, lab demo, backend vxlan",
      "",
      "✓  1  pod a  eth0          10.244.1.2/24, up",
      "✓  2  node1  bridge weft0  10.244.1.1/24, up",
      "       note:    hairpin off",
      "",
      "path complete: 2 hops from pod a to pod c",
      "",
    ].join("\n"),
  );
});

test("a broken path: missing and fix under the first break, a rule, later breaks counted", () => {
  const r: TraceReport = {
    ...base,
    sameNode: true,
    to: { pod: "b", ip: "10.244.1.3", node: "node1" },
    hops: [
      ok("pod a", "eth0", "up"),
      broken("node1", "route", "no route", "the route", "ip route add"),
      unknown("node1", "fdb", "unknown MAC"),
      broken("pod b", "eth0", "down", "eth0 up", "ip link set eth0 up"),
    ],
    complete: false,
    brokenAt: 2,
  };
  assert.equal(
    renderTrace(r),
    [
      "trace pod a (10.244.1.2) → pod b (10.244.1.3): both on node1, lab demo, backend vxlan",
      "",
      "✓  1  pod a  eth0   up",
      "✗  2  node1  route  no route",
      "       missing: the route",
      "       fix:     ip route add",
      "       --- beyond the break: what is there, should it be fixed ---",
      "?  3  node1  fdb    unknown MAC",
      "✗  4  pod b  eth0   down",
      "       missing: eth0 up",
      "       fix:     ip link set eth0 up",
      "",
      "path broken at hop 2 (node1 route), and 1 more broken hop beyond it",
      "",
    ].join("\n"),
  );
});
