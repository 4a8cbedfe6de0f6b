/**
 * Leasing this node's subnet out of the cluster CIDR, for the stores that
 * keep a table of leases (embedded, etcd: their SubnetStore.acquire).
 *
 * acquireLease decides, in order:
 *   1. A lease the store already holds for this node name is ours: after a
 *      restart the agent renews it (with its current public IP and backend
 *      data) instead of taking a second subnet. If that lease lies outside
 *      the configured range (the cluster CIDR or subnet length changed), a
 *      new one is taken as below and the old one released only once the new
 *      one is held: a node that cannot lease in the new range keeps the
 *      subnet its pods and subnet file use.
 *   2. Else the subnet in the previous subnet file (the run directory
 *      survives an agent restart), if it is in range and free.
 *   3. Else a free subnet, chosen at random among the free ones, so agents
 *      starting together rarely race for the same one; a lost race
 *      (createIfAbsent returns nothing) just tries another.
 * It never takes a subnet another node holds: every write is
 * create-if-absent or a renewal of our own lease.
 */
import { WeftError } from "../lib/errors.ts";
import { contains, formatIp, formatPrefix, overlaps, parseIp, parsePrefix, sizeOf, type Prefix } from "../lib/ipv4.ts";
import { LEASE_LOST, type Lease, type LeaseAttrs, type SubnetStore } from "./types.ts";

/** Which subnets may be leased. */
export interface SubnetRange {
  /** The cluster CIDR, canonical. */
  podCidr: string;
  subnetLen: number;
  /** First and last subnet addresses allowed; default the whole CIDR. */
  subnetMin?: string | undefined;
  subnetMax?: string | undefined;
  /**
   * Networks this node is attached to (its interfaces' subnets). A node
   * subnet overlapping one would take over addresses of real hosts, so it
   * is never leased. Default none.
   */
  avoid?: readonly Prefix[] | undefined;
}

/** Error code: no subnet of the range is free. */
export const SUBNET_EXHAUSTED = "SUBNET_EXHAUSTED";

/** Every subnet of `range`, as base addresses in order. */
export function candidateBases(range: SubnetRange): { first: number; last: number; step: number } {
  const cidr = parsePrefix(range.podCidr);
  const step = 2 ** (32 - range.subnetLen);
  const first = range.subnetMin !== undefined ? parseIp(range.subnetMin) : cidr.base;
  const last = range.subnetMax !== undefined ? parseIp(range.subnetMax) : cidr.base + sizeOf(cidr) - step;
  return { first, last, step };
}

/** True when `subnet` is a subnet `range` allows. */
export function inRange(range: SubnetRange, subnet: string): boolean {
  let p: Prefix;
  try {
    p = parsePrefix(subnet);
  } catch {
    return false;
  }
  const { first, last } = candidateBases(range);
  return p.len === range.subnetLen && contains(parsePrefix(range.podCidr), p.base) && p.base >= first && p.base <= last && !avoided(range, p);
}

/** The free subnets of `range`, given the leases that exist. */
export function freeSubnets(range: SubnetRange, leases: readonly Lease[]): string[] {
  const cidr = parsePrefix(range.podCidr);
  const taken = leases.map((l) => parsePrefix(l.subnet));
  const { first, last, step } = candidateBases(range);
  const free: string[] = [];
  for (let base = first; base <= last; base += step) {
    const candidate = { base, len: range.subnetLen };
    if (!contains(cidr, base)) continue;
    const clash = taken.some((t) => overlaps(t, candidate));
    if (!clash && !avoided(range, candidate)) free.push(formatPrefix(candidate));
  }
  return free;
}

function avoided(range: SubnetRange, p: Prefix): boolean {
  return (range.avoid ?? []).some((net) => overlaps(net, p));
}

/** The SUBNET_EXHAUSTED error for `range` with `holders` leases, naming the host networks it kept clear of. */
export function exhausted(range: SubnetRange, holders: number): WeftError {
  const { first, last, step } = candidateBases(range);
  const total = Math.floor((last - first) / step) + 1;
  const bounds = range.subnetMin !== undefined || range.subnetMax !== undefined ? ` between ${formatIp(first)} and ${formatIp(last)}` : "";
  const cidr = parsePrefix(range.podCidr);
  const avoid = (range.avoid ?? []).filter((net) => overlaps(net, cidr)).map(formatPrefix);
  const skipped = avoid.length > 0 ? `; subnets overlapping ${avoid.join(", ")}, networks this node is attached to, are not leased` : "";
  return new WeftError(
    SUBNET_EXHAUSTED,
    `cannot lease a subnet: ${range.podCidr} has no free /${range.subnetLen} left${bounds} (${holders} node${holders === 1 ? "" : "s"} hold leases, ${total} subnets in all${skipped})`,
    { hint: `use a larger --pod-cidr${avoid.length > 0 ? " that does not overlap the node's networks" : ""} or a longer --subnet-len${bounds ? ", or widen --subnet-min/--subnet-max" : ""}, or remove departed nodes' leases` },
  );
}

/** What acquireLease needs besides the store. */
export interface AcquireOptions {
  range: SubnetRange;
  attrs: LeaseAttrs;
  /** The backend data to publish with a lease on a given subnet (Backend.announce). Default: attrs.backendData. */
  dataFor?: (subnet: string) => Record<string, string>;
  ttlSeconds: number;
  /** The subnet in the previous subnet file, if any. */
  previous?: string | undefined;
  /** Picks an index below n; random by default (tests pass a fixed one). */
  pick?: (n: number) => number;
  /** Told about a lease given up, e.g. one outside a changed CIDR. */
  log?: (line: string) => void;
}

/** How a lease was obtained, for the agent's log; `assigned` is a subnet the cluster chose (kubernetes store). */
export type LeaseOrigin = "renewed" | "previous" | "new" | "assigned";

/** What SubnetStore.acquire gives. */
export interface Acquired {
  lease: Lease;
  origin: LeaseOrigin;
}

/** Leases a subnet for `attrs.node` (see the file comment). Store errors propagate. */
export async function acquireLease(store: SubnetStore, o: AcquireOptions): Promise<Acquired> {
  const pick = o.pick ?? ((n: number) => Math.floor(Math.random() * n));
  const attrsFor = (subnet: string): LeaseAttrs => (o.dataFor ? { ...o.attrs, backendData: o.dataFor(subnet) } : o.attrs);
  for (let attempt = 0; attempt < 50; attempt++) {
    const leases = await store.list();
    const own = leases.filter((l) => l.attrs.node === o.attrs.node);
    const stale = own.filter((l) => !inRange(o.range, l.subnet));
    for (const mine of own.filter((l) => inRange(o.range, l.subnet))) {
      try {
        const lease = await store.renew(mine.subnet, attrsFor(mine.subnet), o.ttlSeconds);
        await releaseStale(store, o, stale, lease);
        return { lease, origin: "renewed" };
      } catch (err) {
        if (!(err instanceof WeftError && err.code === LEASE_LOST)) throw err;
      }
    }
    const others = leases.filter((l) => l.attrs.node !== o.attrs.node);
    const free = freeSubnets(o.range, others);
    if (free.length === 0) throw keeping(exhausted(o.range, others.length), stale);
    const choice = o.previous !== undefined && free.includes(o.previous) ? o.previous : free[pick(Math.min(free.length, 64))]!;
    const lease = await store.createIfAbsent(choice, attrsFor(choice), o.ttlSeconds);
    if (lease) {
      await releaseStale(store, o, stale, lease);
      return { lease, origin: choice === o.previous ? "previous" : "new" };
    }
  }
  throw new WeftError("LEASE_CONTENDED", `cannot lease a subnet of ${o.range.podCidr}: lost 50 races in a row to other nodes`, {
    hint: "too many nodes are starting at once for the free subnets; the agent will try again",
  });
}

/** Releases this node's leases outside the range, now that `held` is ours. A failed release is logged: the lease then just expires. */
async function releaseStale(store: SubnetStore, o: AcquireOptions, stale: readonly Lease[], held: Lease): Promise<void> {
  for (const old of stale) {
    const why = avoided(o.range, parsePrefix(old.subnet, "subnet", false))
      ? "it overlaps a network this node is attached to"
      : `it is outside ${o.range.podCidr} (/${o.range.subnetLen}), the range configured now`;
    o.log?.(`releasing ${old.subnet} now that ${held.subnet} is held: ${why}`);
    try {
      await store.release(old.subnet, o.attrs.node);
    } catch (err) {
      o.log?.(`releasing ${old.subnet} failed (it expires on its own): ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** `err` saying that the node keeps its leases outside the range, when it has some. */
function keeping(err: WeftError, stale: readonly Lease[]): WeftError {
  if (stale.length === 0) return err;
  return new WeftError(err.code, `${err.message}; this node keeps its lease on ${stale.map((l) => l.subnet).join(", ")} until it can lease in the range configured now`, {
    ...(err.hint !== undefined && { hint: err.hint }),
  });
}

/** How long to wait between renewals of a lease of `ttlSeconds`: a third of it, at most an hour. */
export function renewIntervalMs(ttlSeconds: number): number {
  return Math.min(ttlSeconds * 1000 / 3, 3_600_000);
}
