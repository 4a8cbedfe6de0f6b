import { test } from "node:test";
import assert from "node:assert/strict";
import { formatSmoke, smokeReport, type SmokeRow } from "./report.ts";

const row = (check: string, result: SmokeRow["result"], detail: string): SmokeRow => ({ check, from: "smoke-a", to: "smoke-b (10.244.1.3)", result, detail });

test("counts, verdict and table for a run that passed with a skip", () => {
  const r = smokeReport("demo", 1, [row("ping, same node", "pass", "rtt 0.1 ms"), row("ping, across nodes", "skip", "skipped (1 node)")], 2.345);
  assert.deepEqual([r.passed, r.counts], [true, { pass: 1, fail: 0, skip: 1 }]);
  assert.equal(
    formatSmoke(r),
    [
      "CHECK                FROM      TO                     RESULT   DETAIL",
      "ping, same node      smoke-a   smoke-b (10.244.1.3)   pass     rtt 0.1 ms",
      "ping, across nodes   smoke-a   smoke-b (10.244.1.3)   skip     skipped (1 node)",
      "",
      "smoke passed: 1 passed, 1 skipped in 2.3 s on lab demo",
      "",
    ].join("\n"),
  );
});

test("one failure fails the run and the verdict says how many", () => {
  const r = smokeReport("demo", 2, [row("a", "pass", ""), row("b", "fail", "no reply within 2 s"), row("c", "fail", "")], 1);
  assert.equal(r.passed, false);
  assert.match(formatSmoke(r), /\nsmoke FAILED: 2 of 3 checks failed \(1 passed\) in 1\.0 s on lab demo\n$/);
});
