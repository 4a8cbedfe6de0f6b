/**
 * `policy`: where the agent enforces network policy (its /policy answers),
 * the table `inet weft-policy` must be there and match what the agent says
 * it enforces: a chain `in-<ip>` for each pod isolated for ingress and
 * `eg-<ip>` for egress, no more, no fewer (a missing or stale table leaves
 * isolated pods open, or keeps gone policies enforced). Pods isolated with
 * no rule allowing anything are pointed out: a default deny is often meant,
 * and often a mistake (a policy whose rules select nothing).
 */
import { nftChains } from "../../kernel/nft-ruleset.ts";
import { TABLE } from "../../policy/compile.ts";
import { valueOf } from "../facts.ts";
import { fail, listing, ok, STALE, warn, type Check } from "../finding.ts";

const TABLE_NAME = `${TABLE.family} ${TABLE.name}`;
const REPAIR = "the agent repairs the table within a second of a change it did not make; if it stays wrong, restart the agent and read its log";

export const checkPolicy: Check = (node) => {
  const read = node.agent.policy;
  if (!read.ok) {
    // A stopped agent is the agent check's finding.
    return /network policy does not run|has no \/policy/.test(read.error) ? [ok(node, "policy", "network policy does not run here (no Kubernetes API, or --no-network-policy)")] : [];
  }
  const policy = read.value;
  if (!policy.synced) {
    return [warn(node, "policy", "network policy has not synced yet: it waits for the first list of pods, namespaces and NetworkPolicies", `read the agent's log (${node.agentLog}) for informer failures; the agent's service account needs list and watch on pods, namespaces and networkpolicies`)];
  }
  const table = node.kernel.policyTable;
  if (!table.ok) return [fail(node, "policy", `cannot read table ${TABLE_NAME}: ${table.error}`, "install nftables and run weft doctor as root")];
  const isolated = policy.pods.filter((p) => p.ingress.isolated || p.egress.isolated);
  if (table.value === null) {
    return [fail(node, "policy", `table ${TABLE_NAME} is missing although the agent enforces ${policy.policies} policies: ${isolated.length} isolated pods are open`, REPAIR)];
  }
  const have = new Set(nftChains({ nftables: table.value }).map((c) => c.name).filter((n) => /^(in|eg)-/.test(n)));
  const want = new Set<string>();
  for (const p of policy.pods) {
    if (p.ingress.isolated) want.add(`in-${p.ips[0]}`);
    if (p.egress.isolated) want.add(`eg-${p.ips[0]}`);
  }
  const missing = [...want].filter((c) => !have.has(c));
  const extra = [...have].filter((c) => !want.has(c));
  if (missing.length || extra.length) {
    const parts = [missing.length ? `no chain for ${listing(missing.slice(0, 3))}${missing.length > 3 ? ` and ${missing.length - 3} more` : ""}` : "", extra.length ? `chains for pods no longer isolated: ${listing(extra.slice(0, 3))}${extra.length > 3 ? ` and ${extra.length - 3} more` : ""}` : ""].filter(Boolean);
    return [fail(node, "policy", `table ${TABLE_NAME} ${STALE}: ${parts.join("; ")}`, REPAIR)];
  }
  const shut: string[] = [];
  for (const p of policy.pods) {
    for (const dir of ["ingress", "egress"] as const) {
      if (p[dir].isolated && p[dir].rules === 0) shut.push(`${p.namespace}/${p.name} (${dir}: ${p[dir].policies.join(", ")})`);
    }
  }
  const summary = `table ${TABLE_NAME} matches: ${policy.pods.length} pods, ${isolated.length} isolated, ${policy.policies} policies`;
  if (shut.length) {
    return [warn(node, "policy", `${summary}; isolated with no rule allowing anything: ${listing(shut.slice(0, 3))}${shut.length > 3 ? ` and ${shut.length - 3} more` : ""}`, "a default deny needs nothing; otherwise add a rule to one of the policies named, or check that its peers and ports select what you meant (weft status policy)")];
  }
  return [ok(node, "policy", summary)];
};
