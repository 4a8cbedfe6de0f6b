/**
 * The subnet lease store: the one interface the agent uses to lease its node
 * subnet and to learn the other nodes' subnets. Implementations live in one
 * folder each (`embedded/`, `etcd/`) and are picked by name in
 * `registry.ts`.
 *
 * Besides the contract, this file holds the two things every implementation
 * must do the same way so that they behave alike: checking the caller's input
 * and the JSON record stored per lease (`encodeLease`/`decodeLease`), plus the
 * diff that turns two views of the store into watch events.
 */
import { WeftError } from "../lib/errors.ts";
import { formatPrefix, parsePrefix } from "../lib/ipv4.ts";
import type { AcquireOptions, Acquired } from "./acquire.ts";

/** What a node publishes about itself with its lease; peers program routes from it. */
export interface LeaseAttrs {
  /** The node's name, unique in the cluster; it identifies the lease holder. */
  node: string;
  /** The node's underlay address, the one peers send encapsulated or routed traffic to. */
  publicIp: string;
  /** The backend the node runs, e.g. `vxlan` or `host-gw`. */
  backend: string;
  /** Backend-specific facts peers need, e.g. `{ vtepMac: "aa:bb:…" }` for vxlan. */
  backendData: Record<string, string>;
}

/** One node's lease on one subnet. */
export interface Lease {
  /** The leased subnet in canonical form, e.g. `10.244.3.0/24`. */
  subnet: string;
  attrs: LeaseAttrs;
  /**
   * When the lease runs out, in ms since the epoch, as computed by the holder
   * at its last create or renew. The embedded store expires by this time; etcd
   * expires by its own lease clock, so there it is an estimate.
   */
  expiresAt: number;
}

/** A change seen by `watch`: a lease appeared or changed, or a subnet became free. */
export type LeaseEvent = { type: "put"; lease: Lease } | { type: "delete"; subnet: string };

/**
 * A store of subnet leases with a time to live.
 *
 * Every method may throw a WeftError with code `STORE_UNAVAILABLE` (the
 * backend cannot be reached; the message names it and is one line to log
 * while retrying with backoff), `STORE_ERROR` (the backend answered with an
 * error), `INVALID_CIDR`/`INVALID_LEASE` (bad input) or `STORE_CLOSED`.
 * After an unavailable error the write may or may not have happened: `get`
 * tells whether the subnet is held by this node.
 */
export interface SubnetStore {
  /** Where the store is, for log lines: a directory, etcd endpoints, an API server. */
  readonly location: string;
  /**
   * Leases this node (`o.attrs.node`) its subnet. The store chooses: the
   * embedded and etcd stores take a free subnet of `o.range`
   * (store/acquire.ts), the kubernetes store the one the cluster assigned
   * the Node (spec.podCIDR).
   */
  acquire(o: AcquireOptions): Promise<Acquired>;
  /**
   * Told once the node's backend is set up for `lease` and its peers are
   * programmed. The kubernetes store sets the Node's NetworkUnavailable
   * condition to False; the others have nothing to record.
   */
  programmed(lease: Lease): Promise<void>;
  /**
   * The address the cluster records for node `node` (kubernetes: its Node's
   * InternalIP), which the agent advertises unless told otherwise by
   * --iface, --iface-regex, --iface-can-reach or --public-ip; undefined
   * where the store records none (embedded, etcd) or the node has none yet.
   */
  nodeAddress(node: string): Promise<string | undefined>;
  /**
   * Leases `subnet` to `attrs.node` for `ttlSeconds` only if no unexpired
   * lease on it exists. Returns the new lease, or undefined when the subnet
   * is taken (also when this very node holds it: use `renew` for that).
   * Of any number of concurrent callers, across processes and hosts, at most
   * one wins.
   */
  createIfAbsent(subnet: string, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease | undefined>;
  /**
   * Extends the lease `attrs.node` holds on `subnet` to `ttlSeconds` from now
   * and replaces its attrs. Throws a WeftError with code `LEASE_LOST` when the
   * lease has expired, was released or is held by another node; the caller
   * then leases again with `createIfAbsent`.
   */
  renew(subnet: string, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease>;
  /** The unexpired lease on `subnet`, or undefined. */
  get(subnet: string): Promise<Lease | undefined>;
  /** Every unexpired lease, ordered by subnet address. */
  list(): Promise<Lease[]>;
  /**
   * Ends the lease `node` holds on `subnet`. Does nothing when the subnet is
   * free or held by another node, so it is safe to repeat.
   */
  release(subnet: string, node: string): Promise<void>;
  /**
   * Starts watching. `onEvent` first gets a `put` for every lease that exists
   * when the watch starts (so a caller needs no separate `list`, and nothing
   * created meanwhile is missed), then one event per later change: `put` for
   * a new lease, a renewal or changed attrs; `delete` when a lease is
   * released or expires. Only changes are reported: a caller never gets a
   * `put` equal to the last one for that subnet, nor a `delete` for a subnet
   * it was not told about. Changes in quick succession may be coalesced
   * into the latest state.
   *
   * The watch survives the backend going away: it retries with backoff,
   * calling `onError` (if given) with a STORE_UNAVAILABLE WeftError for each
   * failed attempt, and on reconnecting reports what changed meanwhile.
   * Returns a function that stops the watch; it is safe to call twice.
   */
  watch(onEvent: (event: LeaseEvent) => void, onError?: (err: WeftError) => void): () => void;
  /** Stops every watch and frees connections and timers. Safe to call twice. */
  close(): Promise<void>;
}

/** Code when renewing a lease that expired, was released or belongs to another node. */
export const LEASE_LOST = "LEASE_LOST";
/** Code when the backend (etcd, the store directory) cannot be reached or used. */
export const STORE_UNAVAILABLE = "STORE_UNAVAILABLE";
/** Code when the backend answered with an error weft does not expect. */
export const STORE_ERROR = "STORE_ERROR";
/** Code for a method called after `close()`. */
export const STORE_CLOSED = "STORE_CLOSED";
/** Code for a bad TTL or bad lease attrs passed to a store. */
export const INVALID_LEASE = "INVALID_LEASE";

/** Checks a subnet argument and returns its canonical text; throws INVALID_CIDR. */
export function checkSubnet(subnet: string): string {
  return formatPrefix(parsePrefix(subnet, "subnet"));
}

/** Checks a TTL argument: a whole number of seconds, at least 1. */
export function checkTtl(ttlSeconds: number): void {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
    throw new WeftError(INVALID_LEASE, `invalid lease TTL ${ttlSeconds}: expected whole seconds, at least 1`);
  }
}

/** Checks lease attrs for what the stores rely on: a node name to tell holders apart. */
export function checkAttrs(attrs: LeaseAttrs): void {
  if (typeof attrs.node !== "string" || attrs.node === "") {
    throw new WeftError(INVALID_LEASE, "invalid lease attrs: node must be a non-empty name");
  }
}

/** Throws STORE_CLOSED naming the store when `closed`. */
export function checkOpen(closed: boolean, what: string): void {
  if (closed) throw new WeftError(STORE_CLOSED, `${what} is closed`, { hint: "open a new store" });
}

/** The LEASE_LOST error: `node` no longer holds `subnet`, and `why` says what happened. */
export function leaseLost(subnet: string, node: string, why: string): WeftError {
  return new WeftError(LEASE_LOST, `node ${node} lost its lease on ${subnet}: ${why}`, {
    hint: "lease a subnet again (createIfAbsent), and renew well within the TTL",
  });
}

/**
 * The subnet as a file name or key part: `10.244.3.0/24` → `10.244.3.0-24`,
 * the form flannel uses too, since `/` cannot appear in a file name.
 */
export function subnetKey(subnet: string): string {
  return subnet.replace("/", "-");
}

/** The inverse of `subnetKey`; undefined when `key` is not a canonical subnet key. */
export function subnetFromKey(key: string): string | undefined {
  const subnet = key.replace(/-(\d+)$/, "/$1");
  try {
    return checkSubnet(subnet) === subnet ? subnet : undefined;
  } catch {
    return undefined;
  }
}

/** The stored JSON record of a lease. */
export function encodeLease(lease: Lease): string {
  return JSON.stringify(normalize(lease));
}

/**
 * Parses a stored record. Returns undefined for anything that is not a
 * well-formed lease on `subnet`, so a damaged or foreign record counts as no
 * lease rather than stopping every reader.
 */
export function decodeLease(text: string, subnet: string): Lease | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(raw) || raw["subnet"] !== subnet || typeof raw["expiresAt"] !== "number") return undefined;
  const attrs = raw["attrs"];
  if (!isRecord(attrs)) return undefined;
  const { node, publicIp, backend, backendData } = attrs;
  if (typeof node !== "string" || node === "" || typeof publicIp !== "string" || typeof backend !== "string") return undefined;
  if (!isRecord(backendData) || !Object.values(backendData).every((v) => typeof v === "string")) return undefined;
  return normalize({
    subnet,
    attrs: { node, publicIp, backend, backendData: backendData as Record<string, string> },
    expiresAt: raw["expiresAt"],
  });
}

/** True when two leases are the same in every field. */
export function sameLease(a: Lease, b: Lease): boolean {
  return encodeLease(a) === encodeLease(b);
}

/**
 * The events that take a watcher from `before` to `after` (both keyed by
 * subnet): puts for new or changed leases, deletes for vanished ones.
 */
export function diffLeases(before: ReadonlyMap<string, Lease>, after: ReadonlyMap<string, Lease>): LeaseEvent[] {
  const events: LeaseEvent[] = [];
  for (const subnet of before.keys()) {
    if (!after.has(subnet)) events.push({ type: "delete", subnet });
  }
  for (const [subnet, lease] of after) {
    const old = before.get(subnet);
    if (old === undefined || !sameLease(old, lease)) events.push({ type: "put", lease });
  }
  return events;
}

/** Orders leases by subnet address, then length, for stable listings. */
export function bySubnet(a: Lease, b: Lease): number {
  const pa = parsePrefix(a.subnet);
  const pb = parsePrefix(b.subnet);
  return pa.base - pb.base || pa.len - pb.len;
}

// A fixed field order and sorted backendData keys, so equal leases encode to
// equal text (watchers compare records to report only real changes).
function normalize(lease: Lease): Lease {
  const data = lease.attrs.backendData;
  const backendData: Record<string, string> = {};
  for (const k of Object.keys(data).sort()) backendData[k] = data[k]!;
  const { node, publicIp, backend } = lease.attrs;
  return { subnet: lease.subnet, attrs: { node, publicIp, backend, backendData }, expiresAt: lease.expiresAt };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
