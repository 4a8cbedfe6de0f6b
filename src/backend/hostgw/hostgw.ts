/**
 * The host-gw backend: no encapsulation, no device. Each peer's pod subnet
 * is routed straight to the peer's public IP over the underlay:
 *
 *   ip route replace 10.244.2.0/24 via 192.168.125.102 dev eth0 proto 87
 *
 * That only works when the peer is a direct neighbour on the underlay (its
 * address is on a subnet connected to our underlay interface): a router in
 * between would not know where 10.244.2.0/24 is. A peer that is not is left
 * out and reported (PEER_NOT_ADJACENT); use the vxlan backend for such
 * clusters. Pods get the full underlay MTU.
 *
 * The routes share the underlay interface with routes weft does not own
 * (the connected subnet, the default route), so weft marks its own with
 * route protocol 87 (ASCII "W"; unused in /etc/iproute2/rt_protos) and
 * reconciles only those: `ip route show proto 87` is what weft made, and
 * cleanup is one `ip route flush proto 87`. A "changes" reconcile (the
 * agent's on each lease event) goes by the routes the last reconcile made
 * and the underlay subnets it read instead of reading either, so a new or
 * deleted peer costs one `ip -batch` with its one route.
 */
import { WeftError } from "../../lib/errors.ts";
import { contains, formatIp, formatPrefix, parseIp, parsePrefix, type Prefix } from "../../lib/ipv4.ts";
import { applyBatch, type BatchCommand } from "../../kernel/batch.ts";
import { routeDst, type IpLink, type IpRoute } from "../../kernel/json.ts";
import { readJson, run, type Runner } from "../../kernel/runner.ts";
import {
  BACKEND_NOT_SET_UP, checkPeers, reconcileReport, succeeded,
  type Backend, type BackendOptions, type CheckedPeer, type LocalAddresses, type LocalNode, type Peer, type PeerProblem, type ReconcileMode, type ReconcileReport, type SetupResult,
} from "../types.ts";

/** The route protocol number that marks weft's host-gw routes. */
export const WEFT_ROUTE_PROTO = "87";

/** Error code: a peer's address is not on a subnet connected to our underlay interface. */
export const PEER_NOT_ADJACENT = "PEER_NOT_ADJACENT";

/** The host-gw Backend; it takes only options.runner. */
export class HostGwBackend implements Backend {
  readonly #runner: Runner;
  #local: (LocalAddresses & { iface: string }) | undefined;
  /** Since the last reconcile: the underlay's subnets and weft's routes, as far as they are known; undefined: read them. */
  #programmed: { connected: Prefix[]; routes: IpRoute[] } | undefined;

  constructor(options: BackendOptions) {
    this.#runner = options.runner;
  }

  announce(): Record<string, string> {
    return {};
  }

  podMtu(underlayMtu: number): number {
    return underlayMtu;
  }

  async setup(local: LocalNode): Promise<SetupResult> {
    const checked = { subnet: parsePrefix(local.subnet, "node subnet"), publicIp: parseIp(local.publicIp, "public IP"), iface: local.underlayIface };
    await this.#connected(local.underlayIface);
    this.#local = checked;
    this.#programmed = undefined;
    return { backendData: {}, mtu: this.podMtu(local.underlayMtu) };
  }

  async reconcile(peers: readonly Peer[], mode: ReconcileMode = "full"): Promise<ReconcileReport> {
    if (this.#local === undefined) throw new WeftError(BACKEND_NOT_SET_UP, "host-gw reconcile before setup");
    const iface = this.#local.iface;
    const checked = checkPeers(this.#local, peers);
    const known = mode === "changes" ? this.#programmed : undefined;
    this.#programmed = undefined;
    if (known !== undefined) {
      const adjacent = splitAdjacent(iface, known.connected, checked.ok);
      const plan = planRoutes(iface, adjacent.ok, known.routes);
      // A refusal means the routes or the underlay are not what we thought: read them, as a full reconcile does.
      if ((await applyBatch(this.#runner, "ip", plan.commands)).length === 0) {
        this.#programmed = { connected: known.connected, routes: routesOf(iface, adjacent.ok) };
        return reconcileReport(plan, [], [...checked.problems, ...adjacent.problems]);
      }
    }
    const [connected, routes] = await Promise.all([
      this.#connected(iface),
      readJson<IpRoute[]>(this.#runner, ["ip", "-4", "-j", "route", "show", "proto", WEFT_ROUTE_PROTO]),
    ]);
    const adjacent = splitAdjacent(iface, connected, checked.ok);
    const plan = planRoutes(iface, adjacent.ok, routes);
    const failures = await applyBatch(this.#runner, "ip", plan.commands);
    this.#programmed = { connected, routes: routesOf(iface, succeeded(adjacent.ok, failures)) };
    return reconcileReport(plan, failures, [...checked.problems, ...adjacent.problems]);
  }

  async cleanup(): Promise<void> {
    await run(this.#runner, ["ip", "-4", "route", "flush", "proto", WEFT_ROUTE_PROTO]);
    this.#local = undefined;
    this.#programmed = undefined;
  }

  /** The IPv4 subnets on `iface`; throws when it does not exist. */
  async #connected(iface: string): Promise<Prefix[]> {
    const r = await this.#runner.exec(["ip", "-4", "-j", "addr", "show", "dev", iface]);
    if (r.code !== 0) {
      throw new WeftError("UNDERLAY_MISSING", `host-gw: underlay interface ${iface} cannot be read: ${r.stderr.trim()}`, {
        hint: "choose an existing interface with --iface",
      });
    }
    const links = JSON.parse(r.stdout || "[]") as IpLink[];
    return (links[0]?.addr_info ?? [])
      .filter((a) => a.family === "inet" && a.prefixlen < 32)
      .map((a) => parsePrefix(`${a.local}/${a.prefixlen}`, "underlay address", false));
  }
}

/** Sets aside the peers whose public IP is on no subnet connected to `iface`. */
export function splitAdjacent(iface: string, connected: readonly Prefix[], peers: readonly CheckedPeer[]): { ok: CheckedPeer[]; problems: PeerProblem[] } {
  const ok: CheckedPeer[] = [];
  const problems: PeerProblem[] = [];
  const have = connected.length === 0 ? "no IPv4 subnet" : connected.map(formatPrefix).join(", ");
  for (const p of peers) {
    if (connected.some((c) => contains(c, p.publicIp))) {
      ok.push(p);
      continue;
    }
    problems.push({
      peer: p.peer.node,
      code: PEER_NOT_ADJACENT,
      message: `peer ${p.peer.node} (${p.peer.publicIp}) is not on a directly connected subnet of ${iface} (${have}), so it is not on the same L2 segment and host-gw cannot route ${p.peer.subnet} to it; use --backend vxlan`,
    });
  }
  return { ok, problems };
}

/** The routes planRoutes makes for `peers`, as `ip -j route show proto 87` reads them back. */
export function routesOf(iface: string, peers: readonly CheckedPeer[]): IpRoute[] {
  return peers.map((p) => ({ dst: formatPrefix(p.subnet), gateway: formatIp(p.publicIp), dev: iface, protocol: WEFT_ROUTE_PROTO, flags: [] }));
}

/**
 * The batch that makes weft's routes (`current`, read with `proto 87`) be
 * exactly one `SUBNET via PUBLIC_IP dev IFACE` per peer: removals first,
 * then replacements of missing or drifted routes.
 */
export function planRoutes(iface: string, peers: readonly CheckedPeer[], current: readonly IpRoute[]): { commands: BatchCommand[]; changed: string[]; removed: string[] } {
  const commands: BatchCommand[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  const want = new Set(peers.map((p) => formatPrefix(p.subnet)));
  for (const r of current) {
    const dst = routeDst(r);
    if (want.has(dst)) continue;
    commands.push({ argv: ["route", "del", dst, "proto", WEFT_ROUTE_PROTO], tag: `route ${dst}` });
    removed.push(`route ${dst}`);
  }
  for (const p of peers) {
    const dst = formatPrefix(p.subnet);
    const via = formatIp(p.publicIp);
    if (current.some((r) => routeDst(r) === dst && r.gateway === via && r.dev === iface)) continue;
    commands.push({ argv: ["route", "replace", dst, "via", via, "dev", iface, "proto", WEFT_ROUTE_PROTO], tag: p.peer.node });
    changed.push(p.peer.node);
  }
  return { commands, changed, removed };
}
