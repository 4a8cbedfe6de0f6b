/**
 * What `weft doctor` reports: findings, one per check and node (or per peer
 * for the per-peer checks), each with a status and, when something is
 * wrong, the fix. A check is a pure function over the facts collected from
 * the nodes (facts.ts), so its tests feed it fakes.
 */
import { valueOf, type Cluster, type NodeFacts } from "./facts.ts";

/** How a check came out: `warn` is worth fixing, `fail` breaks pod traffic (and the exit status). */
export type Status = "ok" | "warn" | "fail";

/** What the table checks (service-proxy, policy) say of a table behind what it should hold; doctor looks again before it believes them (doctor.ts). */
export const STALE = "is stale";

/** One result of one check on one node. */
export interface Finding {
  /** The node the finding is about (the lab's node name, or the agent's). */
  node: string;
  /** The check's name, e.g. `forwarding`, `peer node2`. */
  check: string;
  status: Status;
  /** What was found, one line. */
  message: string;
  /** What to do about it, for warn and fail. */
  fix?: string;
}

/** A check: the findings for `node`, which may look at the rest of `cluster`. */
export type Check = (node: NodeFacts, cluster: Cluster) => Finding[];

/** An ok finding. */
export function ok(node: NodeFacts, check: string, message: string): Finding {
  return { node: node.name, check, status: "ok", message };
}

/** A warn finding with its fix. */
export function warn(node: NodeFacts, check: string, message: string, fix: string): Finding {
  return { node: node.name, check, status: "warn", message, fix };
}

/** A fail finding with its fix. */
export function fail(node: NodeFacts, check: string, message: string, fix: string): Finding {
  return { node: node.name, check, status: "fail", message, fix };
}

/** `a`, `a and b`, `a, b and c`. */
export function listing(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

/** True when `node`'s agent runs on the kubernetes store: the weft DaemonSet's pod, configured by ConfigMap weft-config. */
export function agentIsDaemonSetPod(node: NodeFacts): boolean {
  return valueOf(node.agent.status)?.store.name === "kubernetes";
}

/** How a fix changes the agents' configuration of a DaemonSet install: the ConfigMap, then a rollout. */
function setInWeftConfig(config: string): string {
  return `set ${config} in ConfigMap kube-system/weft-config, then kubectl -n kube-system rollout restart daemonset/weft`;
}

/**
 * The fix "restart the agents with `flags`"; in a lab, also how to rebuild
 * it with `labFlags`, when `weft lab up` can pass them. With `config` (the
 * same setting as weft-config's key, e.g. `"iface": ["eth1"]`) and a node
 * whose agent is the weft DaemonSet's pod, "set it in weft-config and
 * restart the DaemonSet" instead.
 */
export function restartAgentsWith(cluster: Cluster, flags: string, labFlags?: string, config?: { node: NodeFacts; setting: string }): string {
  const lab = cluster.lab && labFlags ? `; in this lab: weft lab down --name ${cluster.lab.name} && ${cluster.lab.upCommand} ${labFlags}` : "";
  if (config !== undefined && agentIsDaemonSetPod(config.node)) return `${setInWeftConfig(config.setting)}${lab}`;
  return `restart the agents with ${flags}${lab}`;
}
