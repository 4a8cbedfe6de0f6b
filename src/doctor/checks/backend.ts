/**
 * `backend`: the device the backend carries pod traffic on. vxlan: the
 * device weft.<VNI> exists, is up, and sends from the address the node
 * advertises over the underlay interface the agent chose (a device left
 * from an earlier choice would send from the wrong one). host-gw: the
 * underlay interface is up and holds the advertised address.
 */
import { valueOf } from "../facts.ts";
import { fail, ok, type Check } from "../finding.ts";

const RESTART = "restart the agent: it sets the device up again at start and on every resync";

/** The check. */
export const checkBackend: Check = (node) => {
  const status = valueOf(node.agent.status);
  const links = valueOf(node.kernel.links);
  if (status === undefined || links === undefined || status.subnet === null) return [];
  const underlay = links.find((l) => l.ifname === status.underlay.name);
  if (underlay === undefined) {
    return [fail(node, "backend", `the underlay interface ${status.underlay.name} the agent chose is gone`, `bring it back, or restart the agent so it chooses again`)];
  }
  if (!underlay.flags.includes("UP")) {
    return [fail(node, "backend", `the underlay interface ${status.underlay.name} is down`, node.onNode(`ip link set ${status.underlay.name} up`))];
  }
  if (status.backend !== "vxlan") return [ok(node, "backend", `${status.backend} over ${status.underlay.name} (${status.publicIp})`)];

  const vxlan = node.kernel.vxlan;
  if (vxlan === null) return [fail(node, "backend", "the vxlan device weft.<VNI> is missing, so no pod traffic leaves for other nodes", RESTART)];
  if (!vxlan.ok) return [fail(node, "backend", `cannot read the vxlan device: ${vxlan.error}`, "run weft doctor as root with iproute2 installed")];
  const device = links.find((l) => l.ifname === vxlan.value.device)!;
  const data = device.linkinfo?.info_data ?? {};
  const wrong: string[] = [];
  if (!device.flags.includes("UP")) wrong.push("it is down");
  if (data["local"] !== status.publicIp) wrong.push(`it sends from ${String(data["local"] ?? "no fixed address")}, not ${status.publicIp}`);
  const dev = data["link"];
  if (dev !== undefined && dev !== status.underlay.name) wrong.push(`it sends over ${String(dev)}, not ${status.underlay.name}`);
  if (wrong.length > 0) return [fail(node, "backend", `${device.ifname}: ${wrong.join("; ")}`, RESTART)];
  return [ok(node, "backend", `${device.ifname} up, from ${status.publicIp} over ${status.underlay.name}`)];
};
