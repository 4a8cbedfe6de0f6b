import { test } from "node:test";
import assert from "node:assert/strict";
import type { Finding } from "./finding.ts";
import { exitStatus, formatReport } from "./report.ts";

const ok: Finding = { node: "node1", check: "forwarding", status: "ok", message: "net.ipv4.ip_forward = 1" };
const failing: Finding = { node: "node2", check: "forwarding", status: "fail", message: "net.ipv4.ip_forward = 0", fix: "sysctl -w net.ipv4.ip_forward=1" };
const warning: Finding = { node: "node2", check: "mtu", status: "warn", message: "pods differ", fix: "recreate them" };

test("no problems: the table and 'no problems found', exit status 0", () => {
  assert.equal(formatReport([ok]), "NODE    CHECK        STATUS   DETAIL\nnode1   forwarding   ok       net.ipv4.ip_forward = 1\n\nno problems found\n");
  assert.equal(exitStatus([ok]), 0);
});

test("problems: the table, each fix, and the count; exit status 1 only when one fails", () => {
  const text = formatReport([ok, failing, warning]);
  assert.match(text, /^node2   forwarding   fail     net\.ipv4\.ip_forward = 0$/m);
  assert.match(text, /\nfixes:\n  node2 forwarding: sysctl -w net\.ipv4\.ip_forward=1\n  node2 mtu: recreate them\n\n2 problems found \(1 failing, 1 warning\)\n$/);
  assert.equal(exitStatus([ok, failing, warning]), 1);
  assert.equal(exitStatus([ok, warning]), 0);
  assert.match(formatReport([warning]), /\n1 problem found \(0 failing, 1 warning\)\n$/);
});
