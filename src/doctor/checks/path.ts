/**
 * `path NODE`: what the agent measured towards each peer (its /connections:
 * a small ping and a full-MTU don't-fragment ping to the peer's VTEP
 * address over vxlan, or its public IP for host-gw, the way pod traffic
 * travels). Small pings lost: the peer is
 * unreachable over the pod network. Only the full-size one lost: the path
 * between the nodes carries less than the interfaces claim, a PMTU black
 * hole; collect.ts then measures how much it does carry, so the fix can
 * name the MTU.
 */
import type { AgentStatus, ConnectionStatus } from "../../agent/status.ts";
import { valueOf, type Cluster, type NodeFacts } from "../facts.ts";
import { agentIsDaemonSetPod, fail, ok, restartAgentsWith, warn, type Check, type Finding } from "../finding.ts";
import { overheadOf } from "./mtu.ts";
import { DEFAULT_PORT } from "../../backend/vxlan/vxlan.ts";

/** The check. */
export const checkPaths: Check = (node, cluster) => {
  const status = valueOf(node.agent.status);
  if (status === undefined || status.subnet === null) return [];
  const read = node.agent.connections;
  if (!read.ok) return [warn(node, "path", `cannot measure the paths to the peers: ${read.error}`, "weft status connections retries the measurement")];
  return read.value.map((c): Finding => {
    const check = `path ${c.node}`;
    if (!c.reachable) {
      const refused = status.peers.find((p) => p.node === c.node)?.state === "problem";
      return fail(
        node,
        check,
        `${c.node} (${c.target}) does not answer over ${c.backend}${c.error ? ` (${c.error})` : ""}`,
        refused
          ? `the agent did not program ${c.node}: fix what the peer ${c.node} finding says`
          : `see the other findings for both nodes (public-ip, peer, backend, forwarding); if they are all ok, something between the nodes drops the traffic${c.backend === "vxlan" ? ` (let UDP port ${vxlanPort(node)} through between the nodes' addresses)` : ""}`,
      );
    }
    if (!c.mtuOk) return blackHole(node, status, c, cluster);
    return ok(node, check, `${c.node} answers${c.rttMs === null ? "" : ` in ${c.rttMs} ms`}; ${c.mtu}-byte packets get through`);
  });
};

/** The UDP port of the node's vxlan device (the agent's --vxlan-port), as the kernel reports it. */
function vxlanPort(node: NodeFacts): number {
  const vxlan = node.kernel.vxlan;
  const device = vxlan?.ok ? valueOf(node.kernel.links)?.find((l) => l.ifname === vxlan.value.device) : undefined;
  const port = device?.linkinfo?.info_data?.["port"];
  return typeof port === "number" ? port : DEFAULT_PORT;
}

function blackHole(node: NodeFacts, status: AgentStatus, c: ConnectionStatus, cluster: Cluster): Finding {
  const measured = node.pathMtu[c.publicIp];
  const iface = status.underlay.name;
  const what = `small packets reach ${c.node}, but a ${c.mtu}-byte don't-fragment packet does not: `;
  if (measured === undefined || measured === null) {
    return fail(node, `path ${c.node}`, `${what}the path between the nodes carries less than ${iface}'s MTU ${status.underlay.mtu} claims (a PMTU black hole: full-size pod packets vanish)`, `find the smallest MTU on the path to ${c.publicIp} and set ${iface}'s MTU to it on every node, or ${restartAgentsWith(cluster, "a smaller --mtu", undefined, { node, setting: 'a smaller "mtu"' })}`);
  }
  const pod = measured - overheadOf(status.backend);
  return fail(
    node,
    `path ${c.node}`,
    `${what}the path to ${c.publicIp} carries ${measured}-byte packets while ${iface} says ${status.underlay.mtu} (a PMTU black hole: full-size pod packets vanish)`,
    `set ${iface}'s MTU to ${measured} on every node (${node.onNode(`ip link set ${iface} mtu ${measured}`)}) and restart the ${agentIsDaemonSetPod(node) ? "weft DaemonSet (kubectl -n kube-system rollout restart daemonset/weft)" : "agents"}, so pods get ${pod}; or ${restartAgentsWith(cluster, `--mtu ${pod}`, undefined, { node, setting: `"mtu": ${pod}` })}`,
  );
}
