/**
 * What trace needs from each backend, one implementation per folder entry
 * (vxlan.ts, hostgw.ts) behind the BACKEND_TRACES map in registry.ts: the
 * route the source node must choose, the device the destination node
 * receives on, and the backend's own hops in between.
 */
import type { NodeFacts, PathFacts } from "../facts.ts";
import type { Hop } from "../hop.ts";

/** The route a source node must choose for a pod on another node. */
export interface ExpectedRoute {
  /** The destination node's pod subnet, or null when its bridge does not say. */
  subnet: string | null;
  /** The device, or null when unknown (no underlay interface). */
  dev: string | null;
  /** The next hop, or null when the destination node's facts do not say. */
  gateway: string | null;
  /** The arguments after `ip` that put the route in place, or null when the subnet is unknown. */
  replace: string | null;
}

/** One backend's part of a trace. */
export interface BackendTrace {
  /** The device pod traffic from other nodes arrives on at `node`, or null when it is unknown. */
  ingress(node: NodeFacts): string | null;
  /** The route the source node must choose for the destination pod. */
  expectedRoute(f: PathFacts): ExpectedRoute;
  /** The hops on the source node after its route decision, up to the underlay. */
  sourceHops(f: PathFacts): Hop[];
  /** The hops on the destination node from the underlay to its forwarding. */
  destinationHops(f: PathFacts): Hop[];
}
