/**
 * The underlay hops: the source node's path to the destination node's
 * underlay address (where the vxlan device sends its UDP, or where host-gw
 * routes the pod's packet itself) and the destination node's underlay
 * interface, which receives it.
 */
import { UNDERLAY_CIDR } from "../../lab/layout.ts";
import { inet, linkDown, linkNamed, type Lookup, type NodeFacts } from "../facts.ts";
import { ipIn } from "../hints.ts";
import { broken, ok, unknown, type Hop } from "../hop.ts";

/**
 * The source node's route to the destination node's underlay address: out
 * of the underlay interface, which must be up; with `direct` (host-gw) the
 * peer must be on-link, a neighbour whose ARP does not fail.
 */
export function underlayOutHop(node: NodeFacts, peer: NodeFacts, lookup: Lookup | undefined, direct: boolean): Hop {
  if (node.underlayIface === null) return noUnderlay(node);
  const what = `underlay ${node.underlayIface}`;
  if (lookup === undefined) return unknown(node.name, what, "no route lookup was made");
  const showAddr = ipIn(node.netns, `addr show dev ${node.underlayIface}`);
  if (lookup.route === null) {
    return broken(node.name, what, `no route: ${lookup.error} (ip route get ${lookup.query})`, `a route to ${peer.name}'s underlay address ${peer.underlayIp}`, `check ${node.underlayIface}'s address and routes: ${showAddr}`);
  }
  const r = lookup.route;
  const found = `to ${r.dst}${r.prefsrc ? ` src ${r.prefsrc}` : r.from ? ` from ${r.from}` : ""}${r.gateway ? ` via ${r.gateway}` : ""} dev ${r.dev} (${peer.name})`;
  if (r.dev !== node.underlayIface) {
    return broken(node.name, what, found, `the path to ${peer.name} over ${node.underlayIface}, the interface weft was told to use`, `check the routes: ${ipIn(node.netns, "route show")}`);
  }
  if (direct && r.gateway !== undefined) {
    return broken(node.name, what, found, `${peer.name} as a direct neighbour on ${node.underlayIface}: host-gw needs every node on one L2 segment`, "use --backend vxlan for nodes behind a router");
  }
  const link = linkNamed(node.links, node.underlayIface);
  const down = link ? linkDown(link) : "missing";
  if (down) return broken(node.name, what, `${found}; ${node.underlayIface} is ${down}`, `${node.underlayIface} up`, ipIn(node.netns, `link set ${node.underlayIface} up`));
  const neigh = node.neighs.find((n) => n.dev === node.underlayIface && n.dst === (r.gateway ?? peer.underlayIp));
  if (neigh?.state?.some((s) => s === "FAILED" || s === "INCOMPLETE")) {
    return broken(node.name, what, `${found}; ARP for ${neigh.dst} ${neigh.state.join(",")}`, `an answer to ARP for ${neigh.dst} on ${node.underlayIface}`, `check that ${peer.name} is up and on the same switch: ${ipIn(peer.netns, "addr show")}`);
  }
  return ok(node.name, what, `${found}, up`);
}

/** The destination node's underlay interface: present, up, holding the node's underlay address. */
export function underlayInHop(node: NodeFacts): Hop {
  if (node.underlayIface === null) return noUnderlay(node);
  const what = `underlay ${node.underlayIface}`;
  const link = linkNamed(node.links, node.underlayIface);
  if (!link) return broken(node.name, what, `no ${node.underlayIface} in ${node.netns}`, `the underlay interface ${node.underlayIface}`, `check the lab's topology (weft lab down and up --name …)`);
  const addrs = inet(link).map((a) => `${a.local}/${a.prefixlen}`);
  const found = addrs.join(", ") || "no IPv4 address";
  const down = linkDown(link);
  if (down) return broken(node.name, what, `${found}, ${down}`, `${node.underlayIface} up`, ipIn(node.netns, `link set ${node.underlayIface} up`));
  if (!inet(link).some((a) => a.local === node.underlayIp)) {
    return broken(node.name, what, found, `${node.name}'s underlay address ${node.underlayIp} on ${node.underlayIface}`, ipIn(node.netns, `addr add ${node.underlayIp}/${UNDERLAY_CIDR.split("/")[1]} dev ${node.underlayIface}`));
  }
  return ok(node.name, what, `${found}, up`);
}

/** The hop when no interface holds the node's underlay address and none was named with --iface. */
function noUnderlay(node: NodeFacts): Hop {
  return broken(node.name, "underlay", `no interface in ${node.netns} holds ${node.underlayIp}`, `${node.name}'s underlay address on its link to the switch`, `check the lab's topology: ${ipIn(node.netns, "addr show")}`);
}
