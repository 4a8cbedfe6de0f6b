import { test } from "node:test";
import assert from "node:assert/strict";
import { autogroupNiceLine, BEST_EFFORT_NICE, containerNice } from "./autogroup.ts";

test("only BestEffort pods' containers get a CPU weight of their own, the least", () => {
  assert.equal(containerNice("BestEffort"), BEST_EFFORT_NICE);
  assert.equal(BEST_EFFORT_NICE, 19);
  assert.equal(containerNice("Burstable"), undefined);
  assert.equal(containerNice("Guaranteed"), undefined);
  // A pod the API server has not classed (none does that) keeps the default.
  assert.equal(containerNice(null), undefined);
});

test("the launch shell's line writes its session's autogroup and is silent where there is none", () => {
  assert.equal(autogroupNiceLine(19), "{ echo 19 >/proc/self/autogroup; } 2>/dev/null || :");
  assert.throws(() => autogroupNiceLine(20), RangeError);
  assert.throws(() => autogroupNiceLine(1.5), RangeError);
});
