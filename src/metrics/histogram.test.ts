import { test } from "node:test";
import assert from "node:assert/strict";
import { Exposition } from "./exposition.ts";
import { Histogram } from "./histogram.ts";

test("a histogram counts cumulatively per bound, with +Inf, _sum and _count", () => {
  const h = new Histogram([0.1, 1]);
  for (const v of [0.05, 0.1, 0.5, 3]) h.observe(v);
  assert.deepEqual(h.snapshot(), { bounds: [0.1, 1], counts: [2, 3], sum: 3.65, count: 4 });
  assert.equal(
    new Exposition().histogram("x_seconds", "X.", h.snapshot(), { kind: "full" }).text(),
    [
      "# HELP x_seconds X.",
      "# TYPE x_seconds histogram",
      'x_seconds_bucket{kind="full",le="0.1"} 2',
      'x_seconds_bucket{kind="full",le="1"} 3',
      'x_seconds_bucket{kind="full",le="+Inf"} 4',
      'x_seconds_sum{kind="full"} 3.65',
      'x_seconds_count{kind="full"} 4',
      "",
    ].join("\n"),
  );
});

test("bounds must be finite and ascending", () => {
  assert.throws(() => new Histogram([1, 0.5]), /ascending/);
  assert.throws(() => new Histogram([0.5, Infinity]), /finite/);
});
