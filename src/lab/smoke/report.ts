/**
 * The smoke test's results: one row per check (CHECK FROM TO RESULT DETAIL)
 * as a kubectl-style table or JSON, and the verdict line under the table.
 */
import { formatTable } from "../table.ts";

/** pass, fail, or skip (a check that does not apply, e.g. across nodes in a one-node lab). */
export type SmokeResult = "pass" | "fail" | "skip";

/** One check's row. */
export interface SmokeRow {
  check: string;
  from: string;
  to: string;
  result: SmokeResult;
  /** What was seen and how long it took, or why it failed or was skipped. */
  detail: string;
}

/** What `weft lab smoke` reports. */
export interface SmokeReport {
  lab: string;
  nodes: number;
  /** True when no check failed. */
  passed: boolean;
  counts: Record<SmokeResult, number>;
  /** Wall time of the whole run, pods included, in seconds. */
  seconds: number;
  checks: SmokeRow[];
}

/** The report of `rows`, run against lab `lab` of `nodes` nodes in `seconds`. */
export function smokeReport(lab: string, nodes: number, rows: SmokeRow[], seconds: number): SmokeReport {
  const counts = { pass: 0, fail: 0, skip: 0 };
  for (const r of rows) counts[r.result]++;
  return { lab, nodes, passed: counts.fail === 0, counts, seconds, checks: rows };
}

/** The table and a verdict line, with a trailing newline. */
export function formatSmoke(r: SmokeReport): string {
  const table = formatTable(["CHECK", "FROM", "TO", "RESULT", "DETAIL"], r.checks.map((c) => [c.check, c.from, c.to, c.result, c.detail]));
  const skipped = r.counts.skip > 0 ? `, ${r.counts.skip} skipped` : "";
  const verdict = r.passed
    ? `smoke passed: ${r.counts.pass} passed${skipped} in ${r.seconds.toFixed(1)} s on lab ${r.lab}`
    : `smoke FAILED: ${r.counts.fail} of ${r.checks.length} checks failed (${r.counts.pass} passed${skipped}) in ${r.seconds.toFixed(1)} s on lab ${r.lab}`;
  return `${table}\n${verdict}\n`;
}
