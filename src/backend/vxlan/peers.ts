/**
 * The per-peer diff for the vxlan backend: from the peers' leases and the
 * routes, neighbours and FDB entries on `weft.<VNI>`, the two batches (ip,
 * bridge) that make the device carry exactly those peers. Pure; vxlan.ts
 * applies the result. What is "on the device" is either read from the
 * kernel (a full reconcile) or `stateOf` the peers the last reconcile
 * programmed (a "changes" one), so one planner serves both and the second
 * yields only the changed peers' commands.
 */
import { formatIp, formatPrefix } from "../../lib/ipv4.ts";
import type { BatchCommand } from "../../kernel/batch.ts";
import { routeDst, type FdbEntry, type IpNeigh, type IpRoute } from "../../kernel/json.ts";
import type { CheckedPeer, PeerProblem } from "../types.ts";

/** A peer ready to program: a checked lease plus its VTEP MAC. */
export interface VxlanPeer extends CheckedPeer {
  mac: string;
}

/** What is on the device now (`ip -4 -j route|neigh show dev D`, `bridge -j fdb show dev D`). */
export interface VxlanState {
  routes: IpRoute[];
  neighs: IpNeigh[];
  fdb: FdbEntry[];
}

/** The batches that reconcile the device, and what they change. */
export interface VxlanPlan {
  ip: BatchCommand[];
  bridge: BatchCommand[];
  /** Node names of peers with at least one command. */
  changed: string[];
  /** Stale entries the batches remove, e.g. `route 10.244.9.0/24`. */
  removed: string[];
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * Picks the peers whose lease carries a usable `vtepMac`: a unicast MAC that
 * no earlier peer uses (two peers with one MAC would steal each other's
 * FDB entry).
 */
export function withVtepMacs(peers: readonly CheckedPeer[]): { ok: VxlanPeer[]; problems: PeerProblem[] } {
  const ok: VxlanPeer[] = [];
  const problems: PeerProblem[] = [];
  for (const p of peers) {
    const raw = p.peer.backendData["vtepMac"];
    const mac = raw?.toLowerCase() ?? "";
    const clash = ok.find((o) => o.mac === mac);
    const why =
      raw === undefined ? "its lease has no vtepMac (is it running the host-gw backend?)"
      : !MAC.test(mac) || (parseInt(mac.slice(0, 2), 16) & 1) === 1 || mac === "00:00:00:00:00:00" ? `vtepMac "${raw}" is not a unicast MAC address`
      : clash !== undefined ? `vtepMac ${mac} is also node ${clash.peer.node}'s`
      : undefined;
    if (why === undefined) ok.push({ ...p, mac });
    else problems.push({ peer: p.peer.node, code: "PEER_INVALID", message: `peer ${p.peer.node}: ${why}; every node must run the vxlan backend with its own device` });
  }
  return { ok, problems };
}

/**
 * Per peer, three permanent entries on `device`:
 *   route  SUBNET via SUBNET.base dev D onlink
 *   neigh  SUBNET.base lladdr MAC dev D nud permanent
 *   fdb    MAC dev D dst PUBLIC_IP self permanent
 * Entries that match are left alone; drifted ones are replaced; entries
 * that belong to no peer are deleted (removals come first in each batch, so
 * a peer's FDB entry moving to a new address is a delete then an add).
 */
export function planPeers(device: string, peers: readonly VxlanPeer[], state: VxlanState): VxlanPlan {
  const ip: BatchCommand[] = [];
  const bridge: BatchCommand[] = [];
  const removed: string[] = [];
  const changed = new Set<string>();

  const wantRoute = new Map(peers.map((p) => [formatPrefix(p.subnet), p]));
  const wantNeigh = new Map(peers.map((p) => [formatIp(p.subnet.base), p]));
  const wantFdb = new Map(peers.map((p) => [p.mac, p]));

  const remove = (tool: BatchCommand[], what: string, argv: string[]): void => {
    tool.push({ argv, tag: what });
    removed.push(what);
  };
  for (const r of state.routes) {
    const dst = routeDst(r);
    if (!wantRoute.has(dst)) remove(ip, `route ${dst}`, ["route", "del", dst, "dev", device]);
  }
  for (const n of state.neighs) {
    if (!wantNeigh.has(n.dst)) remove(ip, `neigh ${n.dst}`, ["neigh", "del", n.dst, "dev", device]);
  }
  for (const f of state.fdb) {
    if (f.dst === undefined) continue; // not a forwarding entry weft makes
    const owner = wantFdb.get(f.mac);
    if (owner !== undefined && formatIp(owner.publicIp) === f.dst) continue;
    remove(bridge, `fdb ${f.mac} dst ${f.dst}`, ["fdb", "del", f.mac, "dev", device, "dst", f.dst, "self"]);
  }

  for (const p of peers) {
    const node = p.peer.node;
    const subnet = formatPrefix(p.subnet);
    const gw = formatIp(p.subnet.base);
    const dst = formatIp(p.publicIp);
    const add = (tool: BatchCommand[], argv: string[]): void => {
      tool.push({ argv, tag: node });
      changed.add(node);
    };
    if (!state.routes.some((r) => routeDst(r) === subnet && r.gateway === gw && r.flags.includes("onlink"))) {
      add(ip, ["route", "replace", subnet, "via", gw, "dev", device, "onlink"]);
    }
    if (!state.neighs.some((n) => n.dst === gw && n.lladdr === p.mac && (n.state ?? []).includes("PERMANENT"))) {
      add(ip, ["neigh", "replace", gw, "lladdr", p.mac, "dev", device, "nud", "permanent"]);
    }
    if (!state.fdb.some((f) => f.mac === p.mac && f.dst === dst && f.state === "permanent")) {
      add(bridge, ["fdb", "replace", p.mac, "dev", device, "dst", dst, "self", "permanent"]);
    }
  }
  return { ip, bridge, changed: [...changed], removed };
}

/**
 * The entries planPeers programs for `peers`, in the shape `ip -j` and
 * `bridge -j` read them back: what the device holds after a reconcile of
 * `peers` succeeded.
 */
export function stateOf(peers: readonly VxlanPeer[]): VxlanState {
  return {
    routes: peers.map((p) => ({ dst: formatPrefix(p.subnet), gateway: formatIp(p.subnet.base), flags: ["onlink"] })),
    neighs: peers.map((p) => ({ dst: formatIp(p.subnet.base), lladdr: p.mac, state: ["PERMANENT"] })),
    fdb: peers.map((p) => ({ mac: p.mac, dst: formatIp(p.publicIp), flags: ["self"], state: "permanent" })),
  };
}
