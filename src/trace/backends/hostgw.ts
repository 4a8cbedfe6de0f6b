/**
 * The host-gw backend's part of a trace (see backend/hostgw/hostgw.ts): the
 * source node routes the destination's subnet via the destination node's
 * underlay IP on its underlay interface, so the destination must be a
 * direct neighbour there; the destination node receives the pod's packet
 * itself, unencapsulated, on its underlay interface.
 */
import { WEFT_ROUTE_PROTO } from "../../backend/hostgw/hostgw.ts";
import { bridgeAddress } from "../facts.ts";
import { underlayInHop, underlayOutHop } from "../hops/underlay.ts";
import type { BackendTrace } from "./types.ts";

/** The host-gw BackendTrace. */
export const hostGwTrace: BackendTrace = {
  ingress: (node) => node.underlayIface,

  expectedRoute(f) {
    const subnet = bridgeAddress(f.dst.links, f.bridge)?.subnet ?? null;
    const dev = f.src.underlayIface;
    const gateway = f.dst.underlayIp;
    return { subnet, dev, gateway, replace: subnet && dev ? `route replace ${subnet} via ${gateway} dev ${dev} proto ${WEFT_ROUTE_PROTO}` : null };
  },

  sourceHops: (f) => [underlayOutHop(f.src, f.dst, f.lookups.underlay, true)],

  destinationHops: (f) => [underlayInHop(f.dst)],
};
