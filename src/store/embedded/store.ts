/**
 * The embedded store: subnet leases kept as files in one directory, for the
 * agents of one machine (the lab runs one agent process per node, all on one
 * filesystem). Safe for any number of processes at once without a lock: every
 * change is a compare-and-swap on a versioned record file (records.ts). A
 * lease whose expiresAt has passed counts as absent, and `createIfAbsent` may
 * take it over; two agents taking over the same expired lease race on the
 * same next version, and one of them wins.
 *
 * Expiry is judged by this machine's clock, which every process shares.
 */
import { acquireLease, type AcquireOptions, type Acquired } from "../acquire.ts";
import { WeftError } from "../../lib/errors.ts";
import { WatchSet } from "../watch-set.ts";
import {
  STORE_ERROR, bySubnet, checkAttrs, checkOpen, checkSubnet, checkTtl, leaseLost, subnetKey,
  type Lease, type LeaseAttrs, type LeaseEvent, type SubnetStore,
} from "../types.ts";
import { headVersion, readHead, readRecord, recordName, scanDir, writeVersion } from "./records.ts";
import { watchDir } from "./watch.ts";

/** The default store directory. */
export const DEFAULT_EMBEDDED_DIR = "/var/lib/weft/store";

/** Options of the embedded store. */
export interface EmbeddedStoreOptions {
  /**
   * The directory holding the lease files, created on first write; every
   * agent sharing leases must use the same one. Default
   * `/var/lib/weft/store`.
   */
  dir?: string;
}

/** Gives up after this many lost compare-and-swaps in a row: something is badly wrong. */
const MAX_ATTEMPTS = 100;

/** What an update decided: its result, and the record to write (a lease, or undefined for a tombstone). */
type Decision<T> = { result: T; write?: { lease: Lease | undefined } };

/** A SubnetStore in a directory shared by the processes of one machine. */
export class EmbeddedStore implements SubnetStore {
  /** The store directory. */
  readonly dir: string;

  get location(): string {
    return this.dir;
  }
  #closed = false;
  readonly #watches = new WatchSet();

  constructor(options: EmbeddedStoreOptions = {}) {
    this.dir = options.dir ?? DEFAULT_EMBEDDED_DIR;
  }

  async createIfAbsent(subnet: string, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease | undefined> {
    const s = this.#checkArgs(subnet, attrs, ttlSeconds);
    return this.#update(s, (live, _head, now): Decision<Lease | undefined> => {
      if (live) return { result: undefined };
      const lease = { subnet: s, attrs, expiresAt: now + ttlSeconds * 1000 };
      return { result: lease, write: { lease } };
    });
  }

  async renew(subnet: string, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease> {
    const s = this.#checkArgs(subnet, attrs, ttlSeconds);
    return this.#update(s, (live, head, now): Decision<Lease> => {
      if (!live) throw leaseLost(s, attrs.node, head ? "it expired" : "it was released or never created");
      if (live.attrs.node !== attrs.node) throw leaseLost(s, attrs.node, `node ${live.attrs.node} holds it`);
      const lease = { subnet: s, attrs, expiresAt: now + ttlSeconds * 1000 };
      return { result: lease, write: { lease } };
    });
  }

  async get(subnet: string): Promise<Lease | undefined> {
    checkOpen(this.#closed, this.#what());
    const { lease } = await readHead(this.dir, checkSubnet(subnet));
    return lease && lease.expiresAt > Date.now() ? lease : undefined;
  }

  async list(): Promise<Lease[]> {
    checkOpen(this.#closed, this.#what());
    const scan = await scanDir(this.dir);
    const leases: Lease[] = [];
    for (const subnet of scan.versions.keys()) {
      // A record replaced since the listing is read again at its new head.
      const rec = await readRecord(this.dir, recordName(subnetKey(subnet), headVersion(scan, subnet)), subnet)
        ?? await readHead(this.dir, subnet);
      if (rec.lease && rec.lease.expiresAt > Date.now()) leases.push(rec.lease);
    }
    return leases.sort(bySubnet);
  }

  /** A free subnet of the range, or this node's own lease (store/acquire.ts). */
  acquire(o: AcquireOptions): Promise<Acquired> {
    return acquireLease(this, o);
  }

  /** Nothing to record: peers learn a node from its lease alone. */
  async programmed(): Promise<void> {}

  /** This store records no node addresses. */
  async nodeAddress(): Promise<string | undefined> {
    return undefined;
  }

  async release(subnet: string, node: string): Promise<void> {
    checkOpen(this.#closed, this.#what());
    const s = checkSubnet(subnet);
    // An expired record of ours is replaced by a tombstone as well: it tidies
    // the directory and cannot hurt anyone.
    await this.#update(s, (_live, head): Decision<void> =>
      head?.attrs.node === node ? { result: undefined, write: { lease: undefined } } : { result: undefined });
  }

  watch(onEvent: (event: LeaseEvent) => void, onError?: (err: WeftError) => void): () => void {
    checkOpen(this.#closed, this.#what());
    return this.#watches.track(watchDir(this.dir, onEvent, onError));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watches.stopAll();
  }

  #what(): string {
    return `embedded store ${this.dir}`;
  }

  #checkArgs(subnet: string, attrs: LeaseAttrs, ttlSeconds: number): string {
    checkOpen(this.#closed, this.#what());
    checkAttrs(attrs);
    checkTtl(ttlSeconds);
    return checkSubnet(subnet);
  }

  /**
   * Reads the head of `subnet`, lets `decide` choose, and writes the next
   * version if it asks to; when another writer got there first, reads again
   * and lets `decide` choose again. `decide` gets the unexpired lease (if
   * any), the head lease even if expired, and the time it judged by.
   */
  async #update<T>(subnet: string, decide: (live: Lease | undefined, head: Lease | undefined, now: number) => Decision<T>): Promise<T> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const head = await readHead(this.dir, subnet);
      const now = Date.now();
      const live = head.lease && head.lease.expiresAt > now ? head.lease : undefined;
      const decision = decide(live, head.lease, now);
      if (!decision.write) return decision.result;
      if (await writeVersion(this.dir, subnet, head.version + 1, decision.write.lease)) return decision.result;
    }
    throw new WeftError(STORE_ERROR, `embedded store ${this.dir}: gave up changing ${subnet} after ${MAX_ATTEMPTS} conflicting writes`, {
      hint: "too many processes are changing this subnet at once; check for agents fighting over it",
    });
  }
}
