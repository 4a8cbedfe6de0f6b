import { test } from "node:test";
import assert from "node:assert/strict";
import { checkSelector, matchesSelector, POLICY_INVALID } from "./selector.ts";
import type { LabelSelector } from "./types.ts";

const cases: { s: LabelSelector; labels: Record<string, string>; want: boolean }[] = [
  { s: {}, labels: {}, want: true },
  { s: {}, labels: { a: "1" }, want: true },
  { s: { matchLabels: { pod: "a" } }, labels: { pod: "a" }, want: true },
  { s: { matchLabels: { pod: "a" } }, labels: { pod: "b" }, want: false },
  { s: { matchLabels: { pod: "a" } }, labels: {}, want: false },
  { s: { matchLabels: { pod: "a", ns: "x" } }, labels: { pod: "a" }, want: false },
  { s: { matchExpressions: [{ key: "pod", operator: "In", values: ["a", "b"] }] }, labels: { pod: "b" }, want: true },
  { s: { matchExpressions: [{ key: "pod", operator: "In", values: ["a", "b"] }] }, labels: { pod: "c" }, want: false },
  { s: { matchExpressions: [{ key: "pod", operator: "In", values: ["a"] }] }, labels: {}, want: false },
  { s: { matchExpressions: [{ key: "pod", operator: "NotIn", values: ["a"] }] }, labels: {}, want: true },
  { s: { matchExpressions: [{ key: "pod", operator: "NotIn", values: ["a"] }] }, labels: { pod: "a" }, want: false },
  { s: { matchExpressions: [{ key: "pod", operator: "NotIn", values: ["a"] }] }, labels: { pod: "c" }, want: true },
  { s: { matchExpressions: [{ key: "pod", operator: "Exists", values: [] }] }, labels: { pod: "" }, want: true },
  { s: { matchExpressions: [{ key: "pod", operator: "Exists", values: [] }] }, labels: {}, want: false },
  { s: { matchExpressions: [{ key: "pod", operator: "DoesNotExist", values: [] }] }, labels: {}, want: true },
  { s: { matchExpressions: [{ key: "pod", operator: "DoesNotExist", values: [] }] }, labels: { pod: "x" }, want: false },
  // Terms are ANDed.
  { s: { matchLabels: { ns: "x" }, matchExpressions: [{ key: "pod", operator: "In", values: ["a"] }] }, labels: { ns: "x", pod: "b" }, want: false },
  { s: { matchLabels: { ns: "x" }, matchExpressions: [{ key: "pod", operator: "In", values: ["a"] }] }, labels: { ns: "x", pod: "a" }, want: true },
  // A label named like an Object.prototype member is not "present" by accident.
  { s: { matchExpressions: [{ key: "constructor", operator: "Exists", values: [] }] }, labels: {}, want: false },
];

test("matchesSelector: matchLabels and every operator", () => {
  for (const c of cases) assert.equal(matchesSelector(c.s, c.labels), c.want, `${JSON.stringify(c.s)} on ${JSON.stringify(c.labels)}`);
});

test("checkSelector refuses what the API server refuses, naming the term", () => {
  assert.throws(() => checkSelector({ matchExpressions: [{ key: "a", operator: "In", values: [] }] }, "spec.podSelector"), (e: Error & { code?: string }) => e.code === POLICY_INVALID && /spec.podSelector.matchExpressions\[0\]/.test(e.message));
  assert.throws(() => checkSelector({ matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] }, "s"), /takes no values/);
  assert.throws(() => checkSelector({ matchExpressions: [{ key: "a", operator: "Has" as never, values: [] }] }, "s"), /unknown operator/);
  checkSelector({ matchExpressions: [{ key: "a", operator: "NotIn", values: ["x"] }] }, "s");
});
