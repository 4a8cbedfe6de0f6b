/**
 * How doctor prints its findings: a table grouped by node (NODE CHECK
 * STATUS DETAIL), then the fix of every finding that is not ok, then one
 * line counting the problems.
 */
import { formatTable } from "../lab/table.ts";
import type { Finding } from "./finding.ts";

/** The report as text, ending with `N problems found` or `no problems found`. */
export function formatReport(findings: readonly Finding[]): string {
  const table = formatTable(["NODE", "CHECK", "STATUS", "DETAIL"], findings.map((f) => [f.node, f.check, f.status, f.message]));
  const problems = findings.filter((f) => f.status !== "ok");
  if (problems.length === 0) return `${table}\nno problems found\n`;
  const fixes = problems.map((f) => `  ${f.node} ${f.check}: ${f.fix ?? ""}`).join("\n");
  const failing = problems.filter((f) => f.status === "fail").length;
  const counts = `${failing} failing, ${problems.length - failing} warning${problems.length - failing === 1 ? "" : "s"}`;
  return `${table}\nfixes:\n${fixes}\n\n${problems.length} problem${problems.length === 1 ? "" : "s"} found (${counts})\n`;
}

/** The exit status for `findings`: 1 when any check fails, else 0. */
export function exitStatus(findings: readonly Finding[]): number {
  return findings.some((f) => f.status === "fail") ? 1 : 0;
}
