/**
 * The vxlan device `weft.<VNI>`: what it should look like, and the batch
 * that takes an existing device (or none) there. Pure; vxlan.ts reads the
 * kernel and applies the plan. See vxlan.ts for why each setting is what
 * it is.
 */
import { formatIp, type Prefix } from "../../lib/ipv4.ts";
import type { IpLink } from "../../kernel/json.ts";

/** The device as it should be. */
export interface VxlanDevice {
  name: string;
  vni: number;
  port: number;
  /** Our public IP: the outer source address. */
  local: string;
  /** The underlay interface the outer packets leave by. */
  dev: string;
  mtu: number;
  /** Our subnet's network address as a /32, e.g. 10.244.3.0/32. */
  address: string;
  /** The MAC a newly created device gets (an existing matching one keeps its own). */
  mac: string;
}

/** The commands (ip batch argv) that make the device match, and the MAC it will have. */
export interface DevicePlan {
  commands: string[][];
  mac: string;
}

/**
 * A locally administered unicast MAC derived from the node subnet:
 * 0a:58 followed by the four bytes of the subnet's network address. Stable
 * for as long as the node keeps its lease, even when the device is recreated
 * (a reboot, a changed VNI), and distinct per node because subnets are.
 */
export function vtepMacFor(subnet: Prefix): string {
  const bytes = [0x0a, 0x58, (subnet.base >>> 24) & 255, (subnet.base >>> 16) & 255, (subnet.base >>> 8) & 255, subnet.base & 255];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** The address weft puts on the device for a node subnet: its network address as a /32. */
export function vtepAddressFor(subnet: Prefix): string {
  return `${formatIp(subnet.base)}/32`;
}

/**
 * True when an existing link can be kept as `want`. VNI, port, local
 * address, underlay device and learning are fixed at creation; MTU, address
 * and up/down are changed in place.
 */
function reusable(link: IpLink, want: VxlanDevice): boolean {
  const d = link.linkinfo?.info_data ?? {};
  return link.linkinfo?.info_kind === "vxlan" && d["id"] === want.vni && d["port"] === want.port &&
    d["local"] === want.local && d["link"] === want.dev && d["learning"] === false;
}

/** Plans the ip batch that takes `current` (undefined: no such link) to `want`. */
export function planDevice(current: IpLink | undefined, want: VxlanDevice): DevicePlan {
  const name = want.name;
  if (current === undefined || !reusable(current, want)) {
    const commands: string[][] = [];
    if (current !== undefined) commands.push(["link", "del", name]);
    commands.push(
      ["link", "add", name, "address", want.mac, "mtu", String(want.mtu), "type", "vxlan", "id", String(want.vni),
        "dev", want.dev, "local", want.local, "dstport", String(want.port), "nolearning"],
      ["addr", "replace", want.address, "dev", name],
      ["link", "set", name, "up"],
    );
    return { commands, mac: want.mac };
  }
  const commands: string[][] = [];
  if (current.mtu !== want.mtu) commands.push(["link", "set", name, "mtu", String(want.mtu)]);
  const have = (current.addr_info ?? []).filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`);
  for (const a of have) if (a !== want.address) commands.push(["addr", "del", a, "dev", name]);
  if (!have.includes(want.address)) commands.push(["addr", "replace", want.address, "dev", name]);
  if (!current.flags.includes("UP")) commands.push(["link", "set", name, "up"]);
  return { commands, mac: current.address ?? want.mac };
}
