/**
 * `peer NODE`: for every peer lease the agent holds, the kernel entries its
 * backend must have made, compared with what the node has now, by the same
 * planning code the backends reconcile with (so "what should be there" has
 * one definition): for vxlan a route, a permanent neighbour and an FDB
 * entry on weft.<VNI>; for host-gw a route via the peer's address. A peer
 * the backend refuses (a shared address, an overlapping subnet, a host-gw
 * peer on another segment) is reported with the reason. Entries that belong
 * to no lease are stale. And when doctor sees every node (a lab), a node
 * whose lease this node's agent does not know is reported too.
 *
 * The agent repairs such drift on its next resync, so a finding here that
 * persists means the repair fails: its log says why.
 */
import { checkPeers, type CheckedPeer, type Peer, type PeerProblem } from "../../backend/types.ts";
import { planRoutes, splitAdjacent } from "../../backend/hostgw/hostgw.ts";
import { planPeers, withVtepMacs } from "../../backend/vxlan/peers.ts";
import type { BatchCommand } from "../../kernel/batch.ts";
import type { AgentStatus } from "../../agent/status.ts";
import { parsePrefix, tryParseIp } from "../../lib/ipv4.ts";
import { valueOf, type Cluster, type NodeFacts } from "../facts.ts";
import { fail, ok, warn, type Finding } from "../finding.ts";
import { hostAddresses } from "../links.ts";

/** A plan's commands as the tool runs them. */
interface ToolCommand {
  tool: "ip" | "bridge";
  command: BatchCommand;
}

/** The check. */
export function checkPeerEntries(node: NodeFacts, cluster: Cluster): Finding[] {
  const status = valueOf(node.agent.status);
  const publicIp = tryParseIp(status?.publicIp ?? "");
  if (status === undefined || status.subnet === null || publicIp === undefined) return [];
  const leases: Peer[] = status.peers.map((p) => ({ node: p.node, publicIp: p.publicIp, subnet: p.subnet, backendData: p.backendData }));
  const checked = checkPeers({ subnet: parsePrefix(status.subnet), publicIp }, leases);
  const planned = plan(node, status, checked.ok);
  if (planned === null) return [...unknownLeases(node, cluster, status), ...checked.problems.map((p) => leftOut(node, status, p))];
  const findings = [...checked.problems, ...planned.problems].map((p) => leftOut(node, status, p));
  for (const peer of planned.peers) {
    const missing = planned.commands.filter((c) => c.command.tag === peer);
    if (missing.length === 0) {
      findings.push(ok(node, `peer ${peer}`, planned.inPlace));
      continue;
    }
    findings.push(
      fail(
        node,
        `peer ${peer}`,
        `missing or wrong: ${missing.map(describe).join("; ")}, so pod traffic to ${peer} is lost`,
        `the agent's resync puts it back within its interval (--resync-interval, 5 s by default); by hand: ${missing.map((c) => node.onNode(`${c.tool} ${c.command.argv.join(" ")}`)).join("; ")}; if it stays missing, read the agent's log (${node.agentLog}) and weft status peers`,
      ),
    );
  }
  for (const stale of planned.commands.filter((c) => !planned.peers.includes(c.command.tag))) {
    findings.push(warn(node, "stale entry", `${stale.command.tag} belongs to no peer's lease`, `the agent's resync removes it; by hand: ${node.onNode(`${stale.tool} ${stale.command.argv.join(" ")}`)}`));
  }
  return [...findings, ...unknownLeases(node, cluster, status)];
}

/** The backend's plan against the node's kernel, or null when the kernel state could not be read (the backend check says why). */
function plan(node: NodeFacts, status: AgentStatus, peers: readonly CheckedPeer[]): { peers: string[]; commands: ToolCommand[]; problems: PeerProblem[]; inPlace: string } | null {
  if (status.backend === "vxlan") {
    const vxlan = valueOf(node.kernel.vxlan);
    if (vxlan === undefined) return null;
    const usable = withVtepMacs(peers);
    const p = planPeers(vxlan.device, usable.ok, vxlan);
    return {
      peers: usable.ok.map((u) => u.peer.node),
      commands: [...p.bridge.map((command) => ({ tool: "bridge" as const, command })), ...p.ip.map((command) => ({ tool: "ip" as const, command }))],
      problems: usable.problems,
      inPlace: `route, neighbour and FDB entry on ${vxlan.device} match the lease`,
    };
  }
  const routes = valueOf(node.kernel.hostgwRoutes);
  const links = valueOf(node.kernel.links);
  if (routes === undefined || links === undefined) return null;
  const iface = status.underlay.name;
  const connected = hostAddresses(links).filter((a) => a.iface === iface).map((a) => a.network);
  const adjacent = splitAdjacent(iface, connected, peers);
  const p = planRoutes(iface, adjacent.ok, routes);
  return {
    peers: adjacent.ok.map((a) => a.peer.node),
    commands: p.commands.map((command) => ({ tool: "ip" as const, command })),
    problems: adjacent.problems,
    inPlace: `route via ${iface} matches the lease`,
  };
}

/** A peer the backend refuses to program; the fix points at the finding that names the cause, when one does. */
function leftOut(node: NodeFacts, status: AgentStatus, problem: PeerProblem): Finding {
  const peer = status.peers.find((p) => p.node === problem.peer);
  const shared = peer !== undefined && (peer.publicIp === status.publicIp || status.peers.some((p) => p !== peer && p.publicIp === peer.publicIp));
  return fail(
    node,
    `peer ${problem.peer}`,
    `not programmed: ${problem.message}`,
    shared
      ? `${problem.peer} advertises an address another node has: fix what the public-ip finding says`
      : "fix that node's lease as the message says (weft status peers lists the leases; the node-subnets finding names overlapping subnets)",
  );
}

/** Nodes doctor sees holding a subnet that this node's agent has no lease for. */
function unknownLeases(node: NodeFacts, cluster: Cluster, status: AgentStatus): Finding[] {
  const known = new Set(status.peers.map((p) => p.node));
  const findings: Finding[] = [];
  for (const other of cluster.nodes) {
    const theirs = valueOf(other.agent.status);
    if (other === node || theirs?.subnet == null || known.has(theirs.node)) continue;
    findings.push(
      fail(
        node,
        `peer ${other.name}`,
        `${other.name} holds ${theirs.subnet}, but this node's agent has no lease for it, so pods here cannot reach pods there`,
        `check that both agents use the same store (${status.store.name} ${status.store.location} here), then restart this node's agent; its log (${node.agentLog}) says what its watch saw`,
      ),
    );
  }
  return findings;
}

/** `route 10.244.2.0/24 via 10.244.2.0 dev weft.1 onlink` from a replace or delete command. */
function describe(c: ToolCommand): string {
  const [kind, , ...rest] = c.command.argv;
  return `${kind === "fdb" ? "FDB entry" : kind === "neigh" ? "neighbour" : kind} ${rest.join(" ")}`;
}
