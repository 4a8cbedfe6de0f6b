/**
 * The hop list of a pod-to-pod path, a pure function of the facts:
 *
 *   same node:  pod eth0 → pod route → veth → bridge → veth → pod eth0
 *   two nodes:  pod eth0 → pod route → veth → bridge → forwarding → route
 *               → the backend's hops on the source node (vxlan: device,
 *               neighbour, FDB, underlay; host-gw: underlay)
 *               → the backend's hops on the destination node (underlay,
 *               vxlan: device) → forwarding → route to the bridge
 *               → bridge → veth → pod eth0
 *
 * With the network policy's answers, the source node's egress verdict
 * follows the source bridge and the destination node's ingress verdict
 * precedes the destination bridge (policy.ts).
 *
 * Every hop is judged from what is there, even after a broken one, so a
 * trace shows all that is wrong at once; `brokenAt` is the first.
 */
import { backendTrace } from "./backends/registry.ts";
import type { PathFacts } from "./facts.ts";
import type { Hop } from "./hop.ts";
import { bridgeHop, hostVethHop } from "./hops/bridge.ts";
import { deliverHop, forwardingHop, sourceRouteHop } from "./hops/node.ts";
import { podInterfaceHop, podRouteHop } from "./hops/pod.ts";
import { policyHops } from "./policy.ts";

/** One end of the path. */
export interface TraceEnd {
  pod: string;
  ip: string;
  node: string;
}

/** What `weft trace` reports. */
export interface TraceReport {
  lab: string;
  backend: string;
  from: TraceEnd;
  to: TraceEnd;
  sameNode: boolean;
  hops: Hop[];
  /** True when every hop is ok. */
  complete: boolean;
  /** The 1-based number of the first hop that is not ok, or null. */
  brokenAt: number | null;
}

/** Builds the hop list for the facts of one path. */
export function buildTrace(f: PathFacts): TraceReport {
  const sameNode = f.src === f.dst;
  const start = [
    podInterfaceHop(f.lab, f.from),
    podRouteHop(f.from, f.src, f.bridge, f.lookups.podRoute, sameNode),
    hostVethHop(f.lab, f.from, f.src, f.bridge),
    bridgeHop(f.lab, f.src, f.bridge, f.from.ip, f.from.name),
  ];
  const policy = f.policy && policyHops(f.policy, f.src.name, f.dst.name, `${f.to.name} (${f.to.ip})`, `${f.from.name} (${f.from.ip})`);
  if (policy) start.push(policy.egress);
  const end = [...(policy ? [policy.ingress] : []), hostVethHop(f.lab, f.to, f.dst, f.bridge), podInterfaceHop(f.lab, f.to)];
  let hops: Hop[];
  if (sameNode) {
    hops = [...start, ...end];
  } else {
    const backend = backendTrace(f.backend);
    hops = [
      ...start,
      forwardingHop(f.src),
      sourceRouteHop(f.src, f.dst, f.lookups.forward, backend.expectedRoute(f)),
      ...backend.sourceHops(f),
      ...backend.destinationHops(f),
      forwardingHop(f.dst),
      deliverHop(f.dst, f.bridge, f.lookups.deliver),
      bridgeHop(f.lab, f.dst, f.bridge, f.to.ip, f.to.name),
      ...end,
    ];
  }
  const first = hops.findIndex((h) => h.status !== "ok");
  return {
    lab: f.lab,
    backend: f.backend,
    from: { pod: f.from.name, ip: f.from.ip, node: f.src.name },
    to: { pod: f.to.name, ip: f.to.ip, node: f.dst.name },
    sameNode,
    hops,
    complete: first < 0,
    brokenAt: first < 0 ? null : first + 1,
  };
}
