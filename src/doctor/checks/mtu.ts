/**
 * `mtu`: the sizes a pod packet meets on its way must agree. The pod MTU
 * (the agent's, and WEFT_MTU in the subnet file new pods get theirs from)
 * must fit the backend: the underlay interface's MTU minus 50 bytes of
 * VXLAN encapsulation, or the underlay's own MTU for host-gw. The vxlan
 * device must be exactly that size; pods' interfaces (the host ends of their
 * veths on weft0) should have the pod MTU; and every node should give pods
 * the same MTU, or large packets from one node's pods are too large for
 * another's. Whether the path between the nodes really carries that much is
 * the `path` check's job.
 */
import { VXLAN_OVERHEAD } from "../../backend/vxlan/vxlan.ts";
import { valueOf } from "../facts.ts";
import { fail, listing, ok, warn, type Check, type Finding } from "../finding.ts";
import { WEFT_BRIDGE } from "../links.ts";
import { parsedSubnetFile } from "../subnet-file.ts";

/** Bytes a backend adds to every pod packet on the underlay. */
export function overheadOf(backend: string): number {
  return backend === "vxlan" ? VXLAN_OVERHEAD : 0;
}

/** The check. */
export const checkMtu: Check = (node, cluster) => {
  const status = valueOf(node.agent.status);
  const links = valueOf(node.kernel.links);
  if (status?.mtu == null || links === undefined) return [];
  const pod = status.mtu;
  const underlay = links.find((l) => l.ifname === status.underlay.name);
  if (underlay === undefined) return [];
  const max = underlay.mtu - overheadOf(status.backend);
  const carried = `${underlay.ifname}'s ${underlay.mtu}${status.backend === "vxlan" ? ` − ${VXLAN_OVERHEAD} (vxlan)` : ""}`;
  const findings: Finding[] = [];

  if (pod > max) {
    findings.push(fail(node, "mtu", `pods use MTU ${pod}, more than the ${max} bytes ${carried} carries: full-size pod packets are dropped or fragmented`, `restart the agent without --mtu (it then uses ${max}), or with --mtu ${max} or less`));
  }
  const file = valueOf(parsedSubnetFile(node));
  if (file !== undefined && file.mtu !== pod) {
    findings.push(fail(node, "mtu", `the subnet file says WEFT_MTU=${file.mtu} but the agent's pod MTU is ${pod}: new pods get the wrong MTU`, "the agent rewrites the subnet file on its next resync; if it stays, restart the agent"));
  }
  const vxlan = valueOf(node.kernel.vxlan);
  const device = vxlan === undefined ? undefined : links.find((l) => l.ifname === vxlan.device);
  if (status.backend === "vxlan" && device !== undefined && device.mtu !== max) {
    const tooBig = device.mtu > max;
    const message = `${device.ifname} has MTU ${device.mtu}, but ${carried} = ${max}` + (tooBig ? ": encapsulated packets are too large for the underlay" : "");
    const fix = `the agent sets it on its next resync; by hand: ${node.onNode(`ip link set ${device.ifname} mtu ${max}`)}`;
    findings.push(tooBig ? fail(node, "mtu", message, fix) : warn(node, "mtu", message, fix));
  }
  const podLinks = links.filter((l) => l.master === WEFT_BRIDGE);
  const pods = podLinks.filter((l) => l.mtu !== pod);
  if (pods.length > 0) {
    findings.push(
      warn(node, "mtu", `${pods.length} pod interface${pods.length === 1 ? " has" : "s have"} an MTU other than ${pod} (${listing(pods.map((l) => `${l.ifname} ${l.mtu}`))}): pods made before the MTU changed`, "recreate those pods so they get the current MTU"),
    );
  }
  const others = cluster.nodes
    .filter((n) => n !== node)
    .map((n) => ({ name: n.name, mtu: valueOf(n.agent.status)?.mtu }))
    .filter((o): o is { name: string; mtu: number } => typeof o.mtu === "number" && o.mtu !== pod);
  if (others.length > 0) {
    findings.push(
      warn(node, "mtu", `pods here use MTU ${pod}, but ${listing(others.map((o) => `${o.name}'s use ${o.mtu}`))}: packets from the larger side may not fit the smaller`, `give every node the same underlay MTU (or the same --mtu), so every node's pods get ${Math.min(pod, ...others.map((o) => o.mtu))}`),
    );
  }
  if (findings.length === 0) {
    const agree = ["the subnet file", ...(device ? [device.ifname] : []), ...(podLinks.length > 0 ? [`${podLinks.length} pod${podLinks.length === 1 ? "" : "s"}`] : [])];
    findings.push(ok(node, "mtu", `pod MTU ${pod} = ${carried}; ${listing(agree)} agree${agree.length === 1 ? "s" : ""}`));
  }
  return findings;
};
