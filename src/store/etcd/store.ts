/**
 * The etcd v3 store, for clusters of many machines. Each lease is one key,
 * `<prefix><subnet key>` (default `/weft/subnets/10.244.3.0-24`), holding the
 * JSON lease record and attached to an etcd lease of the TTL, so etcd itself
 * deletes the key when the holder stops renewing — that delete is what
 * watchers see as the subnet becoming free.
 *
 *   createIfAbsent  grant an etcd lease, then a txn: if the key's
 *                   create_revision is 0 (no key), put it with that lease;
 *                   the loser revokes its unused lease
 *   renew           keepalive of the etcd lease named in the key's `lease`
 *                   field (so a restarted agent can renew what it had), then
 *                   put the new record if the key was not re-created meanwhile
 *   release         delete the key if it is still the same one, revoke the lease
 *
 * etcd keeps the time: `expiresAt` in the record is the holder's estimate.
 */
import { acquireLease, type AcquireOptions, type Acquired } from "../acquire.ts";
import type { WeftError } from "../../lib/errors.ts";
import { WatchSet } from "../watch-set.ts";
import {
  bySubnet, checkAttrs, checkOpen, checkSubnet, checkTtl, decodeLease, encodeLease, leaseLost, subnetKey,
  type Lease, type LeaseAttrs, type LeaseEvent, type SubnetStore,
} from "../types.ts";
import { EtcdClient, fromBase64, toBase64 } from "./client.ts";
import { rangeLeases, watchPrefix, type EtcdKv } from "./watch.ts";

/** The default endpoint: etcd's own default client URL. */
export const DEFAULT_ETCD_ENDPOINTS: readonly string[] = ["http://127.0.0.1:2379"];
/** The default key prefix of the leases. */
export const DEFAULT_ETCD_PREFIX = "/weft/subnets/";
/** The default time one endpoint may take to answer, in ms. */
export const DEFAULT_ETCD_TIMEOUT_MS = 5_000;

/** Options of the etcd store. */
export interface EtcdStoreOptions {
  /** Client URLs of the etcd members, tried in turn. Default `["http://127.0.0.1:2379"]`. */
  endpoints?: readonly string[];
  /** Key prefix under which the leases live. Default `/weft/subnets/`. */
  prefix?: string;
  /** PEM CA certificate that signed the etcd server certificates. Default: the system CAs. */
  caFile?: string;
  /** PEM client certificate, for an etcd run with --client-cert-auth (needs keyFile). Default none. */
  certFile?: string;
  /** PEM private key of certFile. Default none. */
  keyFile?: string;
  /** How long one endpoint may take to answer, in ms. Default 5000. */
  timeoutMs?: number;
}

interface RangeAnswer { kvs?: EtcdKv[] }
interface GrantAnswer { ID: string; TTL: string }
interface TxnAnswer { succeeded?: boolean }
interface KeepAliveAnswer { result?: { TTL?: string } }

/** A SubnetStore in etcd v3, spoken to through its JSON gateway. */
export class EtcdStore implements SubnetStore {
  /** The key prefix of the leases. */
  readonly prefix: string;
  readonly #client: EtcdClient;
  readonly #watches = new WatchSet();
  #closed = false;

  /** Connects lazily; throws INVALID_STORE_CONFIG for a bad endpoint URL or an unreadable TLS file. */
  constructor(options: EtcdStoreOptions = {}) {
    this.prefix = options.prefix ?? DEFAULT_ETCD_PREFIX;
    this.#client = new EtcdClient({
      endpoints: options.endpoints ?? DEFAULT_ETCD_ENDPOINTS,
      caFile: options.caFile,
      certFile: options.certFile,
      keyFile: options.keyFile,
      timeoutMs: options.timeoutMs ?? DEFAULT_ETCD_TIMEOUT_MS,
    });
  }

  async createIfAbsent(subnet: string, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease | undefined> {
    const s = this.#checkArgs(subnet, attrs, ttlSeconds);
    const key = toBase64(this.#key(s));
    const grant = await this.#client.call<GrantAnswer>("/v3/lease/grant", { TTL: ttlSeconds });
    // etcd may raise a short TTL to its minimum (2 s by default): trust its answer.
    const lease: Lease = { subnet: s, attrs, expiresAt: Date.now() + Number(grant.TTL) * 1000 };
    const txn = await this.#client.call<TxnAnswer>("/v3/kv/txn", {
      compare: [{ key, target: "CREATE", result: "EQUAL", create_revision: "0" }],
      success: [{ request_put: { key, value: toBase64(encodeLease(lease)), lease: grant.ID } }],
    });
    if (txn.succeeded) return lease;
    await this.#revoke(grant.ID);
    return undefined;
  }

  async renew(subnet: string, attrs: LeaseAttrs, ttlSeconds: number): Promise<Lease> {
    const s = this.#checkArgs(subnet, attrs, ttlSeconds);
    const kv = await this.#getKv(s);
    const current = kv && decodeLease(fromBase64(kv.value), s);
    if (!kv) throw leaseLost(s, attrs.node, "it expired or was released");
    if (current?.attrs.node !== attrs.node) {
      throw leaseLost(s, attrs.node, current ? `node ${current.attrs.node} holds it` : "its key holds no weft lease");
    }
    const oldId = kv.lease ?? "0";
    const kept = oldId === "0" ? 0 : Number((await this.#client.call<KeepAliveAnswer>("/v3/lease/keepalive", { ID: oldId })).result?.TTL ?? 0);
    if (kept <= 0 && oldId !== "0") throw leaseLost(s, attrs.node, "its etcd lease expired");
    // keepalive restarts the TTL the lease was granted with; a different TTL
    // needs a new etcd lease, which the key then moves to.
    let id = oldId;
    let ttl = kept;
    if (kept !== ttlSeconds) {
      const grant = await this.#client.call<GrantAnswer>("/v3/lease/grant", { TTL: ttlSeconds });
      if (Number(grant.TTL) === kept) {
        await this.#revoke(grant.ID); // etcd raised the TTL to what we have already
      } else {
        id = grant.ID;
        ttl = Number(grant.TTL);
      }
    }
    const lease: Lease = { subnet: s, attrs, expiresAt: Date.now() + ttl * 1000 };
    const key = toBase64(this.#key(s));
    const txn = await this.#client.call<TxnAnswer>("/v3/kv/txn", {
      compare: [{ key, target: "CREATE", result: "EQUAL", create_revision: kv.create_revision }],
      success: [{ request_put: { key, value: toBase64(encodeLease(lease)), lease: id } }],
    });
    if (!txn.succeeded) {
      if (id !== oldId) await this.#revoke(id);
      throw leaseLost(s, attrs.node, "it expired or was taken over meanwhile");
    }
    if (id !== oldId && oldId !== "0") await this.#revoke(oldId);
    return lease;
  }

  async get(subnet: string): Promise<Lease | undefined> {
    checkOpen(this.#closed, this.#what());
    const s = checkSubnet(subnet);
    const kv = await this.#getKv(s);
    return kv && decodeLease(fromBase64(kv.value), s);
  }

  async list(): Promise<Lease[]> {
    checkOpen(this.#closed, this.#what());
    const { leases } = await rangeLeases(this.#client, this.prefix);
    return [...leases.values()].sort(bySubnet);
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
    const kv = await this.#getKv(s);
    if (!kv || decodeLease(fromBase64(kv.value), s)?.attrs.node !== node) return;
    const key = toBase64(this.#key(s));
    const txn = await this.#client.call<TxnAnswer>("/v3/kv/txn", {
      compare: [{ key, target: "CREATE", result: "EQUAL", create_revision: kv.create_revision }],
      success: [{ request_delete_range: { key } }],
    });
    if (txn.succeeded && kv.lease !== undefined) await this.#revoke(kv.lease);
  }

  watch(onEvent: (event: LeaseEvent) => void, onError?: (err: WeftError) => void): () => void {
    checkOpen(this.#closed, this.#what());
    return this.#watches.track(watchPrefix(this.#client, this.prefix, onEvent, onError));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watches.stopAll();
    this.#client.close();
  }

  get location(): string {
    return this.#client.endpoints.join(",");
  }

  #what(): string {
    return `etcd store ${this.#client.endpoints.join(",")}`;
  }

  #key(subnet: string): string {
    return this.prefix + subnetKey(subnet);
  }

  #checkArgs(subnet: string, attrs: LeaseAttrs, ttlSeconds: number): string {
    checkOpen(this.#closed, this.#what());
    checkAttrs(attrs);
    checkTtl(ttlSeconds);
    return checkSubnet(subnet);
  }

  async #getKv(subnet: string): Promise<EtcdKv | undefined> {
    const res = await this.#client.call<RangeAnswer>("/v3/kv/range", { key: toBase64(this.#key(subnet)) });
    return res.kvs?.[0];
  }

  // Revoking deletes the keys still attached. Every lease revoked here is
  // one no key needs any more, and it expires on its own if the revoke
  // fails, so a failure must not turn a finished operation into an error.
  async #revoke(id: string): Promise<void> {
    await this.#client.call("/v3/lease/revoke", { ID: id }).catch(() => undefined);
  }
}
