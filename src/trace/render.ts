/**
 * A trace as text: a title, one line per hop (`✓`, `✗` or `?`, its number,
 * where, what, what was found), the missing piece and its fix under a
 * broken hop, notes under any hop, a rule after the first broken hop (what
 * follows is what is there, should the break be fixed), and a verdict.
 */
import type { Hop } from "./hop.ts";
import type { TraceReport } from "./path.ts";

const MARK: Record<Hop["status"], string> = { ok: "✓", broken: "✗", unknown: "?" };

/**
 * One line per hop, aligned, with the missing piece, fix and notes under
 * it; after hop `brokenAt` (1-based), when more follow, a rule saying that
 * what comes next is what is there.
 */
export function renderHops(hops: readonly Hop[], brokenAt: number | null): string[] {
  const lines: string[] = [];
  const numWidth = String(hops.length).length;
  const atWidth = Math.max(...hops.map((h) => h.at.length));
  const whatWidth = Math.max(...hops.map((h) => h.what.length));
  const indent = " ".repeat(2 + 2 + numWidth + 2);
  hops.forEach((h, i) => {
    lines.push(`${MARK[h.status]} ${String(i + 1).padStart(numWidth + 1)}  ${h.at.padEnd(atWidth)}  ${h.what.padEnd(whatWidth)}  ${h.found}`);
    if (h.missing !== undefined) lines.push(`${indent}missing: ${h.missing}`);
    if (h.fix !== undefined) lines.push(`${indent}fix:     ${h.fix}`);
    for (const n of h.notes) lines.push(`${indent}note:    ${n}`);
    if (i + 1 === brokenAt && i + 1 < hops.length) lines.push(`${indent}--- beyond the break: what is there, should it be fixed ---`);
  });
  return lines;
}

/** The report as text, with a trailing newline. */
export function renderTrace(r: TraceReport): string {
  const where = r.sameNode ? `both on ${r.from.node}` : `${r.from.node} → ${r.to.node}`;
  const lines = [`trace pod ${r.from.pod} (${r.from.ip}) → pod ${r.to.pod} (${r.to.ip}): ${where}, lab ${r.lab}, backend ${r.backend}`, ""];
  lines.push(...renderHops(r.hops, r.brokenAt));
  lines.push("");
  if (r.brokenAt === null) {
    lines.push(`path complete: ${r.hops.length} hops from pod ${r.from.pod} to pod ${r.to.pod}`);
  } else {
    const first = r.hops[r.brokenAt - 1]!;
    const more = r.hops.filter((h) => h.status === "broken").length - (first.status === "broken" ? 1 : 0);
    lines.push(`path broken at hop ${r.brokenAt} (${first.at} ${first.what})${more > 0 ? `, and ${more} more broken hop${more === 1 ? "" : "s"} beyond it` : ""}`);
  }
  return lines.join("\n") + "\n";
}
