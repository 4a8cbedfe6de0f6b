/**
 * The backend contract: how pod traffic for another node's subnet leaves
 * this node. A backend is one folder (vxlan/, hostgw/) plus one line in
 * registry.ts. The agent calls `announce` when it leases, `setup` once at start, `reconcile` with the
 * full peer list on every lease change ("changes": only what changed since
 * the last reconcile is written) and periodic resync ("full": the kernel is
 * read and drift repaired), and `cleanup` for `weft agent --cleanup`.
 *
 * Also here: the peer checks every backend applies before it programs
 * anything, so one peer with a bad lease is reported, not fatal.
 */
import { WeftError } from "../lib/errors.ts";
import { formatPrefix, overlaps, parsePrefix, tryParseIp, type Prefix } from "../lib/ipv4.ts";
import type { BatchFailure } from "../kernel/batch.ts";
import type { Runner } from "../kernel/runner.ts";

/** Another node, as its lease describes it. */
export interface Peer {
  /** Node name, used in reports and logs. */
  node: string;
  /** The address other nodes reach it at, e.g. 192.168.125.102. */
  publicIp: string;
  /** Its pod subnet, e.g. 10.244.2.0/24. */
  subnet: string;
  /** What its backend published in `SetupResult.backendData`, e.g. `{vtepMac}`. */
  backendData: Record<string, string>;
}

/** This node, as the agent has chosen and leased it. */
export interface LocalNode {
  /** Our pod subnet, e.g. 10.244.1.0/24. */
  subnet: string;
  /** The address we advertise; an address of `underlayIface`. */
  publicIp: string;
  /** The interface node-to-node traffic uses, e.g. eth0. */
  underlayIface: string;
  /** Its MTU. */
  underlayMtu: number;
}

/** What `setup` made. */
export interface SetupResult {
  /** Published in our lease for the other nodes' backends. */
  backendData: Record<string, string>;
  /** The MTU pods must use: the underlay MTU minus this backend's overhead. */
  mtu: number;
}

/** Why one peer (or one stale kernel entry) could not be programmed. */
export interface PeerProblem {
  /** The peer's node name; for a stale entry that would not go, the entry (e.g. `route 10.244.9.0/24`). */
  peer: string;
  /** Stable code, e.g. PEER_NOT_ADJACENT, PEER_INVALID, KERNEL_REJECTED. */
  code: string;
  /** What is wrong and what to do. */
  message: string;
}

/** What one `reconcile` did. */
export interface ReconcileReport {
  /** Node names of peers whose kernel state was added or repaired. */
  changed: string[];
  /** Stale kernel entries removed, e.g. `route 10.244.9.0/24`. */
  removed: string[];
  /** Peers left out or refused; the others were programmed regardless. */
  problems: PeerProblem[];
}

/**
 * How `reconcile` learns what the kernel holds now.
 *
 *   full     reads the backend's kernel state: adds what is missing,
 *            repairs what drifted, removes what belongs to no peer.
 *   changes  trusts that the kernel still holds what the last reconcile
 *            programmed and writes only the difference between that and the
 *            peers now: no reads, and a new or deleted peer costs its own
 *            entries in one batch, not a pass over every peer. With nothing
 *            to go by (no reconcile since `setup`) or when the kernel refuses
 *            a command, it does a full reconcile instead. Drift is left to
 *            the next full one.
 */
export type ReconcileMode = "full" | "changes";

/** One way of carrying pod traffic between nodes. */
export interface Backend {
  /**
   * The backend data `setup` will publish for a node holding `subnet` when
   * it makes its device anew, known before anything is set up: the agent
   * puts it in the first lease record, so peers can program this node at
   * once instead of waiting for a second write. Pure.
   */
  announce(subnet: string): Record<string, string>;
  /** The MTU pods get over an underlay of `underlayMtu`: it minus this backend's overhead. Pure, so the agent checks --mtu before it leases. */
  podMtu(underlayMtu: number): number;
  /** Creates or updates the local device(s); idempotent. Throws WeftError when it cannot. */
  setup(local: LocalNode): Promise<SetupResult>;
  /**
   * Makes the kernel match exactly `peers` — one batch per tool — reading
   * what is there (`mode` "full", the default) or going by what the last
   * reconcile programmed ("changes"; see ReconcileMode). Problems with
   * single peers are reported, not thrown. Call `setup` first; `setup`
   * forgets what was programmed, so the next reconcile is a full one.
   */
  reconcile(peers: readonly Peer[], mode?: ReconcileMode): Promise<ReconcileReport>;
  /** Removes everything this backend made; succeeds when it is already gone. */
  cleanup(): Promise<void>;
}

/** What every backend is built from; a backend ignores the fields it has no use for. */
export interface BackendOptions {
  /** Where its kernel commands run. */
  runner: Runner;
  /** vxlan: the VXLAN network identifier; the device is `weft.<vni>`. Default 1. */
  vni?: number;
  /** vxlan: the UDP destination port. Default 8472 (the Linux kernel's and flannel's). */
  port?: number;
}

/** Builds a backend; one per registry entry. */
export type BackendFactory = (options: BackendOptions) => Backend;

/** Error code: `reconcile` or `cleanup` ran before `setup`. */
export const BACKEND_NOT_SET_UP = "BACKEND_NOT_SET_UP";

/** A peer whose lease parsed, with its addresses as numbers. */
export interface CheckedPeer {
  peer: Peer;
  subnet: Prefix;
  publicIp: number;
}

/** This node as checkPeers compares peers with it. */
export interface LocalAddresses {
  subnet: Prefix;
  publicIp: number;
}

/**
 * Parses the peers' leases and sets aside those no backend can program: a
 * malformed subnet or address, a subnet overlapping ours or an earlier
 * peer's (two leases for one subnet means the store is confused; the first
 * wins, so the result does not flip between runs), or a public IP that is
 * ours or an earlier peer's — the classic symptom of every node advertising
 * the address of a NAT interface they all share.
 */
export function checkPeers(local: LocalAddresses, peers: readonly Peer[]): { ok: CheckedPeer[]; problems: PeerProblem[] } {
  const ok: CheckedPeer[] = [];
  const problems: PeerProblem[] = [];
  const invalid = (peer: Peer, why: string, hint = "its lease needs fixing (weft status peers shows it)"): void => {
    problems.push({ peer: peer.node, code: "PEER_INVALID", message: `peer ${peer.node}: ${why}; ${hint}` });
  };
  const sharedIp = "each node must advertise its own underlay address: choose it with --iface or --public-ip";
  for (const peer of peers) {
    let subnet: Prefix;
    try {
      subnet = parsePrefix(peer.subnet, "peer subnet");
    } catch (err) {
      invalid(peer, err instanceof WeftError ? err.message : String(err));
      continue;
    }
    const publicIp = tryParseIp(peer.publicIp);
    if (publicIp === undefined) {
      invalid(peer, `public IP "${peer.publicIp}" is not an IPv4 address`);
      continue;
    }
    if (overlaps(subnet, local.subnet)) {
      invalid(peer, `subnet ${peer.subnet} overlaps this node's subnet ${formatPrefix(local.subnet)}`);
      continue;
    }
    const clash = ok.find((o) => overlaps(o.subnet, subnet));
    if (clash) {
      invalid(peer, `subnet ${peer.subnet} overlaps ${clash.peer.subnet} of node ${clash.peer.node}`);
      continue;
    }
    if (publicIp === local.publicIp) {
      invalid(peer, `it advertises ${peer.publicIp}, which is this node's own address`, sharedIp);
      continue;
    }
    const twin = ok.find((o) => o.publicIp === publicIp);
    if (twin) {
      invalid(peer, `it advertises ${peer.publicIp}, as node ${twin.peer.node} does`, sharedIp);
      continue;
    }
    ok.push({ peer, subnet, publicIp });
  }
  return { ok, problems };
}

/**
 * The report for a plan (`changed` peers, `removed` entries) applied with
 * `failures`: a refused command's tag is neither changed nor removed but a
 * KERNEL_REJECTED problem, after the `problems` found before applying.
 */
export function reconcileReport(
  plan: { changed: readonly string[]; removed: readonly string[] },
  failures: readonly BatchFailure[],
  problems: readonly PeerProblem[],
): ReconcileReport {
  const failed = new Set(failures.map((f) => f.command.tag));
  return {
    changed: plan.changed.filter((node) => !failed.has(node)),
    removed: plan.removed.filter((what) => !failed.has(what)),
    problems: [
      ...problems,
      ...failures.map((f) => ({ peer: f.command.tag, code: "KERNEL_REJECTED", message: `${f.command.tag}: the kernel refused ${f.message}` })),
    ],
  };
}

/**
 * The peers of a plan whose commands all applied: what the kernel is known
 * to hold for them after `failures`, and so what a "changes" reconcile may
 * diff against (a peer left out is written again by the next one).
 */
export function succeeded<P extends CheckedPeer>(peers: readonly P[], failures: readonly BatchFailure[]): P[] {
  if (failures.length === 0) return [...peers];
  const failed = new Set(failures.map((f) => f.command.tag));
  return peers.filter((p) => !failed.has(p.peer.node));
}
