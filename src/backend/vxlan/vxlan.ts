/**
 * The vxlan backend: pod traffic to other nodes is Ethernet inside UDP
 * (VXLAN, RFC 7348) between the nodes' public IPs, so nodes need only IP
 * reachability between them, not a shared L2 segment (compare host-gw).
 *
 * Kernel state it owns, in the node's network namespace:
 *
 * The device `weft.<VNI>` (VNI 1 by default)
 *   ip link add weft.1 address MAC mtu UNDERLAY-50 type vxlan id 1 \
 *       dev eth0 local PUBLIC_IP dstport 8472 nolearning
 *   ip addr add 10.244.3.0/32 dev weft.1
 *   - dstport 8472 is what the Linux kernel and flannel use by default.
 *   - `local` and `dev` pin the outer source address and interface to the
 *     ones the agent chose (--iface and friends), instead of whatever the
 *     routing table would pick, e.g. a NAT interface every node shares.
 *   - `nolearning` and no multicast group: the device never learns or floods.
 *     Every forwarding decision comes from the leases, programmed below as
 *     permanent entries, so the data path keeps working while the agent is
 *     down and no daemon has to answer L2/L3 misses.
 *   - MTU: the underlay MTU minus 50 bytes of encapsulation (outer IPv4 20,
 *     UDP 8, VXLAN 8, inner Ethernet 14). Pods get the same MTU.
 *   - The address is the node subnet's network address as a /32, as flannel
 *     does. Traffic the node itself sends to remote pods then leaves with a
 *     source from its own pod subnet, which every peer routes back here; and
 *     it is the next hop the peers use for our subnet. The network address
 *     is never a pod's or the bridge's (.1), so it collides with nothing.
 *   - The MAC must not change while peers hold it in their neighbour and FDB
 *     entries: an existing device whose VNI, port, local address and
 *     underlay device match is kept with its MAC (only MTU, address and
 *     up/down are fixed in place); a device that must be created (absent, or
 *     a fixed setting differs) gets a MAC derived from the node subnet
 *     (device.ts, vtepMacFor), so even a recreated device keeps it.
 *
 * Per peer (10.244.2.0/24 at 192.168.125.102 with VTEP MAC M), three
 * permanent entries on weft.1:
 *   route  10.244.2.0/24 via 10.244.2.0 dev weft.1 onlink
 *       L3: the peer's subnet is behind its VTEP address. `onlink` because
 *       10.244.2.0 is on no connected subnet of weft.1 (ours is a /32).
 *   neigh  10.244.2.0 lladdr M dev weft.1 nud permanent
 *       ARP for that next hop, answered in advance: no ARP crosses the
 *       overlay, as nobody would answer it.
 *   fdb    M dev weft.1 dst 192.168.125.102 self permanent
 *       VXLAN: frames for M go in UDP to the peer's public IP.
 *
 * A full reconcile() reads the three tables of weft.1 (everything on the
 * device is ours), diffs them against the leases (peers.ts) and applies one
 * `bridge` batch (the FDB is bridge's) and one `ip` batch: missing and
 * drifted entries are replaced, entries for peers that are gone are
 * deleted. A "changes" reconcile, which the agent runs on every lease
 * event, diffs against the entries the last reconcile programmed instead of
 * reading them (three processes fewer), so a new or deleted peer costs only
 * its own three entries; the agent's periodic full reconcile repairs drift.
 * cleanup() deletes the device, which takes all of its entries with it.
 */
import { WeftError } from "../../lib/errors.ts";
import { parseIp, parsePrefix } from "../../lib/ipv4.ts";
import { applyBatch, type BatchFailure } from "../../kernel/batch.ts";
import type { FdbEntry, IpLink, IpNeigh, IpRoute } from "../../kernel/json.ts";
import { isAbsent, readJson, type Runner } from "../../kernel/runner.ts";
import {
  BACKEND_NOT_SET_UP, checkPeers, reconcileReport, succeeded,
  type Backend, type BackendOptions, type LocalAddresses, type LocalNode, type Peer, type ReconcileMode, type ReconcileReport, type SetupResult,
} from "../types.ts";
import { planDevice, vtepAddressFor, vtepMacFor } from "./device.ts";
import { planPeers, stateOf, withVtepMacs, type VxlanPlan, type VxlanState } from "./peers.ts";

/** Default VXLAN network identifier. */
export const DEFAULT_VNI = 1;
/** Default UDP destination port (the Linux kernel's and flannel's). */
export const DEFAULT_PORT = 8472;
/** Bytes of VXLAN encapsulation: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
export const VXLAN_OVERHEAD = 50;

/** Error code: setup could not make the device. */
export const VXLAN_SETUP_FAILED = "VXLAN_SETUP_FAILED";
/** Error code: reconcile found no device (deleted behind our back, or setup never ran here). */
export const VXLAN_DEVICE_MISSING = "VXLAN_DEVICE_MISSING";

/** The vxlan Backend for one VNI (options.vni, default 1) and UDP port (options.port, default 8472). */
export class VxlanBackend implements Backend {
  /** The device name, `weft.<VNI>`. */
  readonly device: string;
  readonly #runner: Runner;
  readonly #vni: number;
  readonly #port: number;
  #local: LocalAddresses | undefined;
  /** What the device holds since the last reconcile, as far as it is known; undefined: read it. */
  #programmed: VxlanState | undefined;

  constructor(options: BackendOptions) {
    const vni = options.vni ?? DEFAULT_VNI;
    const port = options.port ?? DEFAULT_PORT;
    if (!Number.isInteger(vni) || vni < 1 || vni > 0xffffff) {
      throw new WeftError("INVALID_VNI", `invalid VXLAN VNI ${vni}`, { hint: "use an integer from 1 to 16777215" });
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new WeftError("INVALID_PORT", `invalid VXLAN UDP port ${port}`, { hint: "use an integer from 1 to 65535 (default 8472)" });
    }
    this.#runner = options.runner;
    this.#vni = vni;
    this.#port = port;
    this.device = `weft.${vni}`;
  }

  announce(subnet: string): Record<string, string> {
    return { vtepMac: vtepMacFor(parsePrefix(subnet, "node subnet")) };
  }

  podMtu(underlayMtu: number): number {
    return underlayMtu - VXLAN_OVERHEAD;
  }

  async setup(local: LocalNode): Promise<SetupResult> {
    const subnet = parsePrefix(local.subnet, "node subnet");
    const publicIp = parseIp(local.publicIp, "public IP");
    const mtu = this.podMtu(local.underlayMtu);
    const current = await this.#readDevice();
    const plan = planDevice(current, {
      name: this.device, vni: this.#vni, port: this.#port, local: local.publicIp, dev: local.underlayIface,
      mtu, address: vtepAddressFor(subnet), mac: vtepMacFor(subnet),
    });
    // The device may be made anew here, with no entries: what the last reconcile programmed is no guide.
    this.#programmed = undefined;
    const failures = await applyBatch(this.#runner, "ip", plan.commands.map((argv) => ({ argv, tag: this.device })));
    if (failures.length > 0) {
      throw new WeftError(VXLAN_SETUP_FAILED, `cannot set up ${this.device} on ${local.underlayIface}: ${failures.map((f) => f.message).join("; ")}`, {
        hint: `check that ${local.underlayIface} exists and holds ${local.publicIp}, and that UDP port ${this.#port} is not taken by another vxlan device`,
      });
    }
    this.#local = { subnet, publicIp };
    return { backendData: { vtepMac: plan.mac }, mtu };
  }

  async reconcile(peers: readonly Peer[], mode: ReconcileMode = "full"): Promise<ReconcileReport> {
    if (this.#local === undefined) throw new WeftError(BACKEND_NOT_SET_UP, `vxlan reconcile before setup of ${this.device}`);
    const checked = checkPeers(this.#local, peers);
    const usable = withVtepMacs(checked.ok);
    const problems = [...checked.problems, ...usable.problems];
    const known = mode === "changes" ? this.#programmed : undefined;
    this.#programmed = undefined;
    if (known !== undefined) {
      const plan = planPeers(this.device, usable.ok, known);
      // A refusal means the device is not what we thought (or gone): read it, as a full reconcile does.
      if ((await this.#apply(plan)).length === 0) {
        this.#programmed = stateOf(usable.ok);
        return reconcileReport(plan, [], problems);
      }
    }
    const plan = planPeers(this.device, usable.ok, await this.#readState());
    const failures = await this.#apply(plan);
    this.#programmed = stateOf(succeeded(usable.ok, failures));
    return reconcileReport(plan, failures, problems);
  }

  /**
   * Applies the two batches. With anything to add, the FDB goes first: a
   * route is only useful once frames for its MAC have somewhere to go. A
   * plan that only removes has no such order, so both run at once and the
   * peer stops being routed one process sooner.
   */
  async #apply(plan: VxlanPlan): Promise<BatchFailure[]> {
    if (plan.changed.length === 0) {
      const [bridge, ip] = await Promise.all([applyBatch(this.#runner, "bridge", plan.bridge), applyBatch(this.#runner, "ip", plan.ip)]);
      return [...bridge, ...ip];
    }
    return [
      ...(await applyBatch(this.#runner, "bridge", plan.bridge)),
      ...(await applyBatch(this.#runner, "ip", plan.ip)),
    ];
  }

  async cleanup(): Promise<void> {
    const r = await this.#runner.exec(["ip", "link", "del", this.device]);
    if (r.code !== 0 && !isAbsent(r.stderr)) {
      throw new WeftError("VXLAN_CLEANUP_FAILED", `cannot delete ${this.device}: ${r.stderr.trim()}`);
    }
    this.#local = undefined;
    this.#programmed = undefined;
  }

  async #readDevice(): Promise<IpLink | undefined> {
    const r = await this.#runner.exec(["ip", "-d", "-j", "addr", "show", "dev", this.device]);
    if (r.code !== 0 && isAbsent(r.stderr)) return undefined;
    if (r.code !== 0) throw new WeftError(VXLAN_SETUP_FAILED, `cannot read ${this.device}: ${r.stderr.trim()}`);
    return (JSON.parse(r.stdout) as IpLink[])[0];
  }

  async #readState(): Promise<VxlanState> {
    const dev = this.device;
    try {
      const [routes, neighs, fdb] = await Promise.all([
        readJson<IpRoute[]>(this.#runner, ["ip", "-4", "-j", "route", "show", "dev", dev]),
        readJson<IpNeigh[]>(this.#runner, ["ip", "-4", "-j", "neigh", "show", "dev", dev]),
        readJson<FdbEntry[]>(this.#runner, ["bridge", "-j", "fdb", "show", "dev", dev]),
      ]);
      return { routes, neighs, fdb };
    } catch (err) {
      if (err instanceof WeftError && isAbsent(err.message)) {
        throw new WeftError(VXLAN_DEVICE_MISSING, `the vxlan device ${dev} is gone`, {
          hint: "run setup again (the agent does so on its next resync); something deleted it",
          cause: err,
        });
      }
      throw err;
    }
  }
}
