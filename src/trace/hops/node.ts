/**
 * The hops where a node routes pod traffic: forwarding (the sysctl and the
 * agent's nftables forward chain), the source node's route decision for the
 * destination pod, and the destination node's decision to deliver to its
 * bridge. Route decisions are the kernel's own answers to
 * `ip route get … iif DEV`.
 */
import { NFT_FAMILY, NFT_TABLE } from "../../agent/masquerade.ts";
import type { Lookup, NodeFacts } from "../facts.ts";
import { agentFix, agentRestartFix, forwardingFix, ipIn } from "../hints.ts";
import { broken, ok, unknown, type Hop } from "../hop.ts";
import type { ExpectedRoute } from "../backends/types.ts";

/** The forward chain the agent's masquerade.ts writes. */
const WEFT_FORWARD_CHAIN = `${NFT_FAMILY} ${NFT_TABLE} forward`;

/** Forwarding on `node`: net.ipv4.ip_forward and the agent's forward chain; other tables' drops as notes. */
export function forwardingHop(node: NodeFacts): Hop {
  const notes = node.forwardChains
    .filter((c) => c.name !== WEFT_FORWARD_CHAIN)
    .flatMap((c) => {
      const dropsAll = c.policy === "drop" && !c.acceptsPods;
      if (!dropsAll && c.dropRules === 0) return [];
      return [`chain ${c.name} (not weft's) ${dropsAll ? "has policy drop" : `has ${c.dropRules} drop rule${c.dropRules === 1 ? "" : "s"}`}: it may drop pod traffic`];
    });
  const chain = node.forwardChains.some((c) => c.name === WEFT_FORWARD_CHAIN);
  const found = `net.ipv4.ip_forward=${node.ipForward}, chain ${WEFT_FORWARD_CHAIN} ${chain ? "present" : "missing"}`;
  if (node.ipForward !== "1") {
    return broken(node.name, "forwarding", found, `forwarding: ${node.name} does not route packets between its interfaces`, forwardingFix(node), notes);
  }
  if (!chain) return broken(node.name, "forwarding", found, `the nftables chain ${WEFT_FORWARD_CHAIN}`, agentRestartFix(node, `writes table ${NFT_FAMILY} ${NFT_TABLE}`), notes);
  return ok(node.name, "forwarding", found, notes);
}

/** What the source node's agent says that bears on its routes to `peer`: that it is down, not ready, or refuses the peer. */
function agentNotes(node: NodeFacts, peer: NodeFacts): string[] {
  if (node.agent === null) return [`the agent on ${node.name} does not answer on its socket, so nothing restores weft's state there; see ${node.agentLog}`];
  const problem = node.agent.peerProblems[peer.name];
  return [
    ...(node.agent.ready ? [] : [`the agent on ${node.name} is not ready`]),
    ...(problem ? [`the agent on ${node.name} leaves ${peer.name} out: ${problem}`] : []),
  ];
}

/** The source node's route decision for the destination pod, against what the backend expects; the agent's view as notes. */
export function sourceRouteHop(node: NodeFacts, peer: NodeFacts, lookup: Lookup | undefined, want: ExpectedRoute): Hop {
  if (lookup === undefined) return unknown(node.name, "route", "no route lookup was made");
  const notes = agentNotes(node, peer);
  const wanted = `${want.subnet ?? `${peer.name}'s pod subnet`} via ${want.gateway ?? `${peer.name}'s next hop`} dev ${want.dev ?? "?"}`;
  const refused = node.agent?.peerProblems[peer.name] !== undefined;
  const fix = refused
    ? `the agent on ${node.name} leaves ${peer.name} out (see the note): fix what it says, and it programs the route`
    : want.replace ? agentFix(node, ipIn(node.netns, want.replace)) : `give ${peer.name}'s bridge its address first, so its subnet is known`;
  if (lookup.route === null) {
    const missing = node.ipForward === "1" ? `the route ${wanted}` : "forwarding (see the forwarding hop)";
    return broken(node.name, "route", `no route: ${lookup.error} (ip route get ${lookup.query})`, missing, node.ipForward === "1" ? fix : forwardingFix(node), notes);
  }
  const r = lookup.route;
  const found = `${r.dst} from ${r.from ?? "?"} iif ${r.iif ?? "?"}: via ${r.gateway ?? "(on-link)"} dev ${r.dev}`;
  if (r.dev !== want.dev || (want.gateway !== null && r.gateway !== want.gateway)) {
    return broken(node.name, "route", found, `the route ${wanted}: ${r.dst} takes another route instead`, fix, notes);
  }
  return ok(node.name, "route", found, notes);
}

/** The destination node's decision to deliver the pod's packet to its bridge. */
export function deliverHop(node: NodeFacts, bridge: string, lookup: Lookup | undefined): Hop {
  if (lookup === undefined) return unknown(node.name, "route", "no route lookup was made");
  if (lookup.route === null) {
    const missing = node.ipForward === "1" ? `a route to its pod subnet on ${bridge} (the kernel adds it with ${bridge}'s address)` : "forwarding (see the forwarding hop)";
    const fix = node.ipForward === "1" ? `see the ${bridge} hop` : forwardingFix(node);
    return broken(node.name, "route", `no route: ${lookup.error} (ip route get ${lookup.query})`, missing, fix);
  }
  const r = lookup.route;
  const found = `${r.dst} from ${r.from ?? "?"} iif ${r.iif ?? "?"}: ${r.gateway ? `via ${r.gateway} ` : ""}dev ${r.dev}`;
  if (r.dev !== bridge || r.gateway !== undefined) {
    return broken(node.name, "route", found, `delivery on ${bridge}: ${bridge} must hold the address of the subnet ${r.dst} is in`, `see the ${bridge} hop; ${ipIn(node.netns, "addr show dev " + bridge)}`);
  }
  return ok(node.name, "route", found);
}
