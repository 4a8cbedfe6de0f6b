/**
 * The fixes trace suggests, as commands a user can paste: `ip -n NS …` for
 * a node's or pod's namespace, and who puts state back on its own (the
 * agent, the CNI plugin) when a by-hand fix would only be overwritten.
 */
import type { NodeFacts } from "./facts.ts";

/** `ip -n NETNS ARGS`. */
export function ipIn(netns: string, args: string): string {
  return `ip -n ${netns} ${args}`;
}

/** A fix for state the agent owns: the command, and that the agent restores it (and where its log is). */
export function agentFix(node: NodeFacts, command: string): string {
  return `${command} (the agent on ${node.name} restores it on its next resync; if it does not, read ${node.agentLog})`;
}

/** A fix for state the agent makes only when it starts. */
export function agentRestartFix(node: NodeFacts, what: string): string {
  return `the agent on ${node.name} ${what} when it starts: restart it (the lab's supervisor restarts a killed agent) and read ${node.agentLog}`;
}

/** Turning forwarding back on in a node. */
export function forwardingFix(node: NodeFacts): string {
  return `ip netns exec ${node.netns} sysctl -w net.ipv4.ip_forward=1 (the agent turns it on when it starts, the CNI plugin at every pod ADD)`;
}

/** A fix for state the CNI plugin makes when a pod is added. */
export function recreatePodFix(lab: string, pod: string): string {
  return `recreate the pod (weft lab rm ${pod} --name ${lab}, then weft lab run ${pod} --name ${lab} …): CNI ADD sets its network up`;
}
