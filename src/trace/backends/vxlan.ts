/**
 * The vxlan backend's part of a trace (see backend/vxlan/vxlan.ts for the
 * state it programs). On the source node: the route to the peer's subnet
 * via the peer's VTEP address on weft.1, the device itself, the permanent
 * neighbour entry (VTEP address → VTEP MAC), the FDB entry (VTEP MAC → the
 * peer's underlay IP) and the underlay path; on the destination node: its
 * underlay interface and its weft.1 with the same VNI and port, whose MAC
 * the source's entries must name.
 */
import { DEFAULT_VNI } from "../../backend/vxlan/vxlan.ts";
import { bridgeAddress, inet, linkDown, linkNamed, type LinkFacts, type NodeFacts, type PathFacts } from "../facts.ts";
import { agentFix, agentRestartFix, ipIn } from "../hints.ts";
import { broken, ok, unknown, type Hop } from "../hop.ts";
import { underlayInHop, underlayOutHop } from "../hops/underlay.ts";
import type { BackendTrace, ExpectedRoute } from "./types.ts";

/** The device the lab's agents make (the default VNI). */
const DEVICE = `weft.${DEFAULT_VNI}`;

/** A node's VTEP: its weft.1 address (else its subnet's network address, the agent's choice) and MAC. */
function vtep(node: NodeFacts, bridge: string): { address: string | null; mac: string | null } {
  const link = linkNamed(node.links, DEVICE);
  return { address: inet(link)[0]?.local ?? bridgeAddress(node.links, bridge)?.network ?? null, mac: link?.address ?? null };
}

/** The device's VXLAN settings as iproute2 shows them. */
function settings(link: LinkFacts): { id: unknown; port: unknown; local: unknown; dev: unknown } {
  const d = link.linkinfo?.info_data ?? {};
  return { id: d["id"], port: d["port"], local: d["local"], dev: d["link"] };
}

/** weft.1 on `node`: a vxlan device, up, sending from the node's underlay address over its underlay interface; on the destination, with the source's VNI and port. */
function deviceHop(node: NodeFacts, f: PathFacts, peerDevice: LinkFacts | undefined): Hop {
  const what = `vxlan ${DEVICE}`;
  const link = linkNamed(node.links, DEVICE);
  if (!link) return broken(node.name, what, `no ${DEVICE} in ${node.netns}`, `the vxlan device ${DEVICE}`, agentRestartFix(node, `creates ${DEVICE}`));
  const recreate = `${ipIn(node.netns, `link del ${DEVICE}`)}, then restart the agent on ${node.name}, which recreates it`;
  if (link.linkinfo?.info_kind !== "vxlan") return broken(node.name, what, `${DEVICE} is a ${link.linkinfo?.info_kind ?? "plain device"}`, `a vxlan device called ${DEVICE}`, recreate);
  const s = settings(link);
  const found = `vni ${s.id} port ${s.port} local ${s.local} dev ${s.dev}, mac ${link.address}, mtu ${link.mtu}`;
  const down = linkDown(link);
  if (down) return broken(node.name, what, `${found}, ${down}`, `${DEVICE} up`, ipIn(node.netns, `link set ${DEVICE} up`));
  if (s.local !== node.underlayIp || s.dev !== node.underlayIface) {
    const iface = node.underlayIface ?? "IFACE";
    return broken(node.name, what, found, `local ${node.underlayIp} dev ${iface} (${node.name}'s underlay)`, `when the agent chose ${s.local} itself, tell it the underlay with --iface ${iface} (in the lab: weft lab down, then weft lab up --iface ${iface} …); when the device is left from an earlier setting: ${recreate}`);
  }
  if (peerDevice) {
    const p = settings(peerDevice);
    if (p.id !== s.id || p.port !== s.port) {
      return broken(node.name, what, found, `vni ${p.id} port ${p.port}, as on ${f.src.name}: the kernel hands a packet only to the device of its VNI and port`, recreate);
    }
  }
  const podMtu = linkNamed(f.from.links, "eth0")?.mtu;
  const notes = node === f.src && podMtu !== undefined && podMtu > link.mtu ? [`pod ${f.from.name}'s MTU ${podMtu} exceeds ${DEVICE}'s ${link.mtu}: full-size packets are dropped`] : [];
  return ok(node.name, what, `${found}, up`, notes);
}

/** The route the source node must choose: the destination's subnet via its VTEP address, on-link on weft.1. */
function expectedRoute(f: PathFacts): ExpectedRoute {
  const subnet = bridgeAddress(f.dst.links, f.bridge)?.subnet ?? null;
  const gateway = vtep(f.dst, f.bridge).address;
  return { subnet, dev: DEVICE, gateway, replace: subnet && gateway ? `route replace ${subnet} via ${gateway} dev ${DEVICE} onlink` : null };
}

/** The next hop on weft.1: the source node's route's gateway when it uses weft.1, else the destination's VTEP address. */
function nextHop(f: PathFacts): string | null {
  const route = f.lookups.forward?.route;
  return route?.dev === DEVICE && route.gateway ? route.gateway : vtep(f.dst, f.bridge).address;
}

/** The source node's permanent neighbour entry for the next hop: the destination's VTEP MAC. */
function neighbourHop(f: PathFacts): Hop {
  const hop = nextHop(f);
  if (hop === null) return unknown(f.src.name, "neighbour", "the next hop is unknown");
  const mac = vtep(f.dst, f.bridge).mac;
  const fix = agentFix(f.src, ipIn(f.src.netns, `neigh replace ${hop} lladdr ${mac ?? `<${f.dst.name}'s ${DEVICE} MAC>`} dev ${DEVICE} nud permanent`));
  const entry = f.src.neighs.find((n) => n.dev === DEVICE && n.dst === hop);
  if (!entry) {
    return broken(f.src.name, "neighbour", `no entry for ${hop} on ${DEVICE}`, `the permanent entry ${hop} → ${f.dst.name}'s VTEP MAC${mac ? ` ${mac}` : ""} (without it the kernel ARPs over the overlay, and nobody answers)`, fix);
  }
  const state = entry.state?.join(",") ?? "";
  const found = `${hop} lladdr ${entry.lladdr ?? "none"} ${state} on ${DEVICE}`;
  if (!entry.lladdr || /FAILED|INCOMPLETE/.test(state)) return broken(f.src.name, "neighbour", found, `a MAC for ${hop}`, fix);
  if (mac !== null && entry.lladdr !== mac) return broken(f.src.name, "neighbour", found, `lladdr ${mac}, the MAC of ${f.dst.name}'s ${DEVICE} (this entry is stale)`, fix);
  return ok(f.src.name, "neighbour", `${found} (${f.dst.name}'s VTEP)`);
}

/** The source node's FDB entry for the VTEP MAC: where the UDP goes. */
function fdbHop(f: PathFacts): Hop {
  const hop = nextHop(f);
  const mac = f.src.neighs.find((n) => n.dev === DEVICE && n.dst === hop)?.lladdr ?? vtep(f.dst, f.bridge).mac;
  if (!mac) return unknown(f.src.name, "fdb", "the VTEP MAC is unknown");
  const fix = agentFix(f.src, `bridge -n ${f.src.netns} fdb replace ${mac} dev ${DEVICE} dst ${f.dst.underlayIp} self permanent`);
  const entries = f.src.fdb.filter((e) => e.ifname === DEVICE && e.mac === mac);
  if (entries.length === 0) {
    return broken(f.src.name, "fdb", `no entry for ${mac} on ${DEVICE}`, `the entry ${mac} → dst ${f.dst.underlayIp} (${f.dst.name}): frames for its VTEP have nowhere to go`, fix);
  }
  const found = entries.map((e) => `${mac} → dst ${e.dst ?? "none"}`).join(", ") + ` on ${DEVICE}`;
  if (!entries.some((e) => e.dst === f.dst.underlayIp)) return broken(f.src.name, "fdb", found, `dst ${f.dst.underlayIp}, ${f.dst.name}'s underlay address`, fix);
  return ok(f.src.name, "fdb", `${found} (${f.dst.name})`);
}

/** The vxlan BackendTrace. */
export const vxlanTrace: BackendTrace = {
  ingress: () => DEVICE,

  expectedRoute,

  sourceHops(f) {
    return [
      deviceHop(f.src, f, undefined),
      neighbourHop(f),
      fdbHop(f),
      underlayOutHop(f.src, f.dst, f.lookups.underlay, false),
    ];
  },

  destinationHops(f) {
    return [underlayInHop(f.dst), deviceHop(f.dst, f, linkNamed(f.src.links, DEVICE))];
  },
};
