/**
 * `weft status policy` as a table: one row per pod of the node, with the
 * directions policy isolates it in and the policies that select it.
 */
import { formatTable } from "../lab/table.ts";
import type { PolicyStatus } from "../policy/controller.ts";

export function formatPolicy(nodes: ReadonlyArray<{ node: string; policy: PolicyStatus }>, withNode: boolean): string {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const { node, policy } of nodes) {
    for (const p of policy.pods) {
      const policies = [...new Set([...p.ingress.policies, ...p.egress.policies])];
      rows.push([...(withNode ? [node] : []), `${p.namespace}/${p.name}`, p.ips.join(",") || "-", p.ingress.isolated ? "isolated" : "open", p.egress.isolated ? "isolated" : "open", policies.join(",") || "-"]);
    }
    const at = withNode ? `${node}: ` : "";
    if (!policy.synced) notes.push(`${at}not synced yet (waiting for the first list of pods, namespaces and policies)`);
    else if (policy.last) notes.push(`${at}${policy.policies} policies; last sync ${policy.last.kind} at ${policy.last.at} in ${policy.last.durationMs} ms${policy.strict ? "; strict: denied flows are cut" : ""}`);
    for (const problem of policy.problems) notes.push(`${at}${problem}`);
  }
  const table = formatTable([...(withNode ? ["NODE"] : []), "POD", "IP", "INGRESS", "EGRESS", "POLICIES"], rows);
  return notes.length ? `${table}\n${notes.join("\n")}\n` : table;
}
