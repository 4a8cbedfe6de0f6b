/**
 * The pod side of a pod's network, inside the pod's namespace: the pod's
 * address on its interface, the interface up, and the default route via
 * the gateway on the node bridge. Owns nothing on the node.
 */
import { addAddressRequest } from "../netlink/addr.ts";
import { decodeLink, getLinkRequest, linkUpRequest, type LinkInfo } from "../netlink/link.ts";
import { routeRequest } from "../netlink/route.ts";
import { firstError, type RouteSocket } from "../netlink/socket.ts";

/**
 * Configures the pod's interface `index` in one netlink batch on a socket
 * in the pod's namespace — address, up, default route, in the order the
 * kernel needs them (the route's gateway is reachable once the address's
 * subnet is on an up link) — and returns the interface read back after.
 * Throws the first failure; the caller undoes the veth.
 */
export function configurePod(pod: RouteSocket, index: number, ip: number, len: number, gateway: number): LinkInfo {
  const outcomes = pod.batch([addAddressRequest(index, ip, len, false), linkUpRequest(index), routeRequest(0, 0, gateway, index), getLinkRequest(index)]);
  const failed = firstError(outcomes);
  if (failed) throw failed;
  return decodeLink(outcomes[3]!.replies![0]!.payload);
}
