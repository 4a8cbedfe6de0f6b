/**
 * The agent itself, through its API:
 *
 * `agent`: the socket answers /healthz, and /readyz says ready (a lease
 * held, the backend reconciled, the subnet file written).
 *
 * `store`: the agent's last call to the lease store worked. While it fails
 * the node keeps its data plane but sees no new peers and cannot renew.
 *
 * `reconcile`: the last reconcile ran without problems; each problem it
 * reported is listed (the peer findings say the same per peer).
 */
import { fail, ok, warn, type Check } from "../finding.ts";
import { valueOf } from "../facts.ts";

/** The agent check. */
export const checkAgent: Check = (node) => {
  const { health, ready, status } = node.agent;
  if (!health.ok) {
    return [fail(node, "agent", health.error, `start the agent (weft agent --run-dir ${node.paths.runDir} …) and read its log (${node.agentLog})`)];
  }
  if (!ready.ok) return [fail(node, "agent", `/readyz failed: ${ready.error}`, `read the agent's log (${node.agentLog})`)];
  if (ready.value.trim() !== "ready") {
    return [fail(node, "agent", `the agent is ${ready.value.trim()}: pods on this node cannot get addresses or reach other nodes yet`, `wait a few seconds; if it stays, read the agent's log (${node.agentLog})`)];
  }
  const s = valueOf(status);
  return [ok(node, "agent", s ? `ready: pid ${s.pid}, ${s.backend}, ${s.subnet}, up since ${s.startedAt}` : "ready")];
};

/** The store check. */
export const checkStore: Check = (node) => {
  const s = valueOf(node.agent.status);
  if (s === undefined) return [];
  const where = `${s.store.name} store ${s.store.location}`;
  if (s.store.healthy) return [ok(node, "store", `${where} answers`)];
  return [
    fail(
      node,
      "store",
      `the ${where} fails${s.store.lastError ? `: ${s.store.lastError}` : ""}; the node keeps its routes but sees no new peers and cannot renew its lease`,
      s.store.name === "etcd" ? `make etcd at ${s.store.location} reachable from this node (etcdctl --endpoints ${s.store.location} endpoint health)` : `make ${s.store.location} exist and be writable for the agent`,
    ),
  ];
};

/** The reconcile check. */
export const checkReconcile: Check = (node) => {
  const s = valueOf(node.agent.status);
  if (s === undefined) return [];
  const r = s.reconcile;
  if (r.runs === 0) return [warn(node, "reconcile", "the agent has not reconciled its peers yet", `wait a few seconds; if it stays, read the agent's log (${node.agentLog})`)];
  if (r.lastProblems.length > 0) {
    return [
      warn(
        node,
        "reconcile",
        `the last reconcile left ${r.lastProblems.length} problem${r.lastProblems.length === 1 ? "" : "s"}: ${r.lastProblems.map((p) => `${p.peer} ${p.code}`).join(", ")}`,
        "see the peer findings for each, and weft status peers",
      ),
    ];
  }
  return [ok(node, "reconcile", `${r.runs} runs, the last at ${r.lastAt} without problems`)];
};
