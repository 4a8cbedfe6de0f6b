/**
 * A service trace as text: a title, the service steps as `weft trace`
 * prints hops (mark, number, where, what, what was found; missing and fix
 * under a broken one), the endpoint the packet was translated to and how
 * trace knows, then the pod-to-pod path to it as `weft trace POD-A POD-B`
 * renders it, and a last line saying what the client sees.
 */
import type { Hop } from "../hop.ts";
import { renderHops, renderTrace } from "../render.ts";
import type { ServiceTraceReport } from "./trace.ts";

const CHOSEN: Record<NonNullable<ServiceTraceReport["endpoint"]>["chosenBy"], string> = {
  conntrack: "the kernel's choice for the probe, read from conntrack",
  only: "the only endpoint",
  first: "not observed (no probe): the first of the endpoints numgen chooses among",
};

/** The report as text, with a trailing newline. */
export function renderServiceTrace(r: ServiceTraceReport): string {
  const svc = `${r.service.namespace}/${r.service.name}`;
  const lines = [`trace pod ${r.from.pod} (${r.from.ip}) → service ${svc} ${r.target}: from ${r.from.node}, lab ${r.lab}`, ""];
  lines.push(...renderHops(r.hops, null));
  if (r.endpoint !== null || r.pathNote !== null) lines.push("");
  if (r.endpoint !== null) {
    const e = r.endpoint;
    const who = e.pod === null ? "no pod of the lab" : `pod ${e.pod} on ${e.node}`;
    lines.push(`DNAT → ${e.ip}${e.port === null ? "" : `:${e.port}`} (${who}): ${CHOSEN[e.chosenBy]}`);
  }
  if (r.pathNote !== null) lines.push(r.pathNote);
  if (r.path !== null) lines.push("", ...renderTrace(r.path).trimEnd().split("\n"));
  lines.push("", `${r.complete ? "service reached" : r.verdict === "dnat" ? "service translated, path broken" : "service not reached"}: ${r.summary}`);
  return lines.join("\n") + "\n";
}
