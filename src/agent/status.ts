/**
 * What a running agent reports about itself: the JSON body of its API's
 * `/status`, the input of `/metrics`, `/readyz`, `weft status` and
 * `weft doctor`. The agent builds one AgentStatus from its live state on
 * every request; nothing here is cached.
 */
import type { HistogramSnapshot } from "../metrics/histogram.ts";
import type { PeerProblem } from "../backend/types.ts";

/** One other node as this agent sees it. */
export interface PeerStatus {
  node: string;
  publicIp: string;
  subnet: string;
  /** The backend the peer's lease names (it should be ours). */
  backend: string;
  backendData: Record<string, string>;
  /** When the peer's lease runs out, ms since the epoch. */
  leaseExpiresAt: number;
  /** `programmed`: the last reconcile put its kernel state in place; `problem`: it was refused (see `problem`). */
  state: "programmed" | "problem";
  problem?: PeerProblem;
}

/** What makes the agent ready; `/readyz` is 200 only when all three hold. */
export interface Readiness {
  /** A lease on `subnet` is held. */
  lease: boolean;
  /** The backend's device is set up and a reconcile has run. */
  backend: boolean;
  /** The subnet file is written for the leased subnet. */
  subnetFile: boolean;
}

/** The agent's view of the lease store. */
export interface StoreStatus {
  /** `embedded` or `etcd`. */
  name: string;
  /** The store directory or the etcd endpoints, for messages. */
  location: string;
  /** False while the last call to the store failed. */
  healthy: boolean;
  /** The last store error's one-line message, or null. */
  lastError: string | null;
}

/** Counters and the last outcome of the reconcile loop. */
export interface ReconcileStatus {
  /** Reconciles run since start. */
  runs: number;
  /** Reconciles that threw (the kernel or a tool failed as a whole). */
  failures: number;
  /** Peer problems reported, summed over every reconcile. */
  problems: number;
  /** ISO time of the last reconcile, or null before the first. */
  lastAt: string | null;
  lastDurationMs: number | null;
  /** The problems of the last reconcile. */
  lastProblems: PeerProblem[];
  /** Reconcile durations in seconds since start (cumulative; bounds: metrics.ts RECONCILE_BUCKETS). */
  duration: HistogramSnapshot;
}

/** The whole report, as `/status` serves it. */
export interface AgentStatus {
  node: string;
  /** weft's package version. */
  version: string;
  pid: number;
  startedAt: string;
  ready: boolean;
  readiness: Readiness;
  /** The cluster CIDR. */
  network: string;
  /** The leased node subnet, or null while none is held. */
  subnet: string | null;
  /** The gateway address pods use (the subnet's first address), or null. */
  gateway: string | null;
  /** The advertised underlay address. */
  publicIp: string;
  underlay: { name: string; mtu: number };
  /** Pod MTU (underlay MTU minus the backend's overhead), or null before setup. */
  mtu: number | null;
  backend: string;
  backendData: Record<string, string>;
  ipMasq: boolean;
  /** Lease expiry, ms since the epoch, or null. */
  leaseExpiresAt: number | null;
  store: StoreStatus;
  peers: PeerStatus[];
  reconcile: ReconcileStatus;
  /** Where the agent keeps its files. */
  paths: {
    runDir: string;
    stateDir: string;
    subnetFile: string;
    socket: string;
    /** The CNI plugin's IPAM store for this node (its dataDir). */
    ipamDir: string;
  };
}

/** The result of measuring one peer (`/connections`, `weft status connections`). */
export interface ConnectionStatus {
  node: string;
  publicIp: string;
  subnet: string;
  backend: string;
  /** The address that was pinged: a vxlan peer's VTEP address (over the overlay), a host-gw peer's public IP. */
  target: string;
  reachable: boolean;
  /** Round-trip time in ms, when reachable. */
  rttMs: number | null;
  /** The MTU probed: a ping of this size with DF set got through (or not, see `mtuOk`). */
  mtu: number;
  /** A full-MTU, don't-fragment ping got through. */
  mtuOk: boolean;
  /** What went wrong, when something did. */
  error: string | null;
}
