/**
 * The hops inside a pod: its eth0 (the CNI plugin's veth end, holding the
 * pod's IP) and the pod's own route decision for the destination, which
 * must go straight over the bridge to a pod on the same node and via the
 * node's gateway to any other.
 */
import { bridgeAddress, inet, linkDown, linkNamed, type Lookup, type NodeFacts, type PodFacts } from "../facts.ts";
import { ipIn, recreatePodFix } from "../hints.ts";
import { broken, ok, unknown, type Hop } from "../hop.ts";

/** The interface the runtime asks the CNI plugin for. */
const POD_IF = "eth0";

/** The pod's eth0: present, up, holding the pod's IP. */
export function podInterfaceHop(lab: string, pod: PodFacts): Hop {
  const at = `pod ${pod.name}`;
  const recreate = recreatePodFix(lab, pod.name);
  if (!pod.present) return broken(at, POD_IF, `namespace ${pod.netns} does not exist`, "the pod's network namespace", recreate);
  const eth0 = linkNamed(pod.links, POD_IF);
  if (!eth0) return broken(at, POD_IF, `no ${POD_IF} in ${pod.netns}`, `the pod's ${POD_IF}`, recreate);
  const addr = inet(eth0).find((a) => a.local === pod.ip);
  const shown = inet(eth0).map((a) => `${a.local}/${a.prefixlen}`).join(", ") || "no IPv4 address";
  const found = `${addr ? `${addr.local}/${addr.prefixlen}` : shown}, mac ${eth0.address ?? "?"}, mtu ${eth0.mtu}`;
  if (!addr) return broken(at, POD_IF, found, `the pod's IP ${pod.ip} on ${POD_IF}`, recreate);
  const down = linkDown(eth0);
  if (down) return broken(at, POD_IF, `${found}, ${down}`, `${POD_IF} up`, `${ipIn(pod.netns, `link set ${POD_IF} up`)}; no carrier means its host end is down (see the next hops)`);
  return ok(at, POD_IF, `${found}, up`);
}

/**
 * The pod's route to the destination pod (`ip route get` in the pod):
 * on-link for a pod of the same node, else via `node`'s bridge address.
 */
export function podRouteHop(pod: PodFacts, node: NodeFacts, bridge: string, lookup: Lookup, sameNode: boolean): Hop {
  const at = `pod ${pod.name}`;
  const gw = bridgeAddress(node.links, bridge);
  const addDefault = gw ? ipIn(pod.netns, `route replace default via ${gw.ip} dev ${POD_IF}`) : `give ${bridge} on ${node.name} its address first, then a default route via it`;
  if (!pod.present) return unknown(at, "route", "the pod's namespace is gone");
  if (lookup.route === null) {
    return broken(at, "route", `no route: ${lookup.error} (ip route get ${lookup.query})`, `a default route via the node's gateway${gw ? ` ${gw.ip}` : ""}`, addDefault);
  }
  const r = lookup.route;
  const found = `to ${r.dst}${r.gateway ? ` via ${r.gateway}` : ""} dev ${r.dev}${r.prefsrc ? ` src ${r.prefsrc}` : ""}`;
  if (r.dev !== POD_IF) return broken(at, "route", found, `a route out of ${POD_IF}`, addDefault);
  if (sameNode) return ok(at, "route", r.gateway ? `${found} (through the node, not straight over the bridge)` : `${found} (on-link: same bridge)`);
  if (r.gateway === undefined) {
    return broken(at, "route", `${found} (on-link)`, `a route via the gateway: the pod takes ${r.dst} for a neighbour on its own link, and nobody answers its ARP`, `${ipIn(pod.netns, "addr show")}: the pod's prefix must be its node's subnet; ${addDefault}`);
  }
  if (gw && r.gateway !== gw.ip) return broken(at, "route", found, `the route via ${node.name}'s gateway ${gw.ip}`, addDefault);
  return ok(at, "route", found);
}
