import { test } from "node:test";
import assert from "node:assert/strict";
import { formatPolicy } from "./policy-format.ts";
import type { PolicyStatus } from "../policy/controller.ts";

const status: PolicyStatus = {
  node: "n1", strict: false, synced: true, policies: 2,
  last: { kind: "partial", at: "2026-12-07T01:00:00.000Z", durationMs: 3.5, compileMs: 1, changes: 4 },
  pods: [
    { namespace: "x", name: "a", ips: ["10.244.1.5"], ingress: { isolated: true, policies: ["x/deny", "x/web"], rules: 1 }, egress: { isolated: true, policies: ["x/deny"], rules: 1 } },
    { namespace: "y", name: "b", ips: ["10.244.1.6"], ingress: { isolated: false, policies: [], rules: 0 }, egress: { isolated: false, policies: [], rules: 0 } },
  ],
  problems: ["NetworkPolicy x/bad: spec.ingress[0].ports[0]: port 0 is not in 1-65535; the rule allows nothing"],
};

test("status policy: a row per pod with its isolation and policies, then the sync and any problems", () => {
  const text = formatPolicy([{ node: "n1", policy: status }], false);
  const lines = text.split("\n");
  assert.match(lines[0]!, /^POD\s+IP\s+INGRESS\s+EGRESS\s+POLICIES$/);
  assert.match(lines[1]!, /^x\/a\s+10\.244\.1\.5\s+isolated\s+isolated\s+x\/deny,x\/web$/);
  assert.match(lines[2]!, /^y\/b\s+10\.244\.1\.6\s+open\s+open\s+-$/);
  assert.match(text, /2 policies; last sync partial .* in 3.5 ms/);
  assert.match(text, /x\/bad: spec.ingress\[0\]/);
  assert.match(formatPolicy([{ node: "n1", policy: { ...status, synced: false, last: null } }], true), /^NODE\s+POD/);
});
