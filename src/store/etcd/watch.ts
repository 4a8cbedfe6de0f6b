/**
 * Watching the lease prefix in etcd. The watch starts with a range read (the
 * snapshot every watcher first gets as puts), then follows a /v3/watch
 * stream from the revision after it. When the stream breaks — etcd
 * restarted, the connection dropped — it reconnects with backoff and resumes
 * from the revision after the last one it saw, so nothing is missed or
 * repeated. When etcd can no longer replay from there (the history was
 * compacted, or etcd came back from a backup with an older revision), it
 * reads the prefix again and reports the difference.
 */
import { WeftError } from "../../lib/errors.ts";
import { STORE_UNAVAILABLE, decodeLease, diffLeases, sameLease, subnetFromKey, type Lease, type LeaseEvent } from "../types.ts";
import { fromBase64, prefixRangeEnd, toBase64, type EtcdClient, type EtcdStream } from "./client.ts";

/** The first reconnect delay, in ms; it doubles per failed attempt. */
export const RETRY_MIN_MS = 100;
/** The longest reconnect delay, in ms: bounds how late a restarted etcd is noticed. */
export const RETRY_MAX_MS = 2_000;

/** A key-value pair as the JSON gateway sends it (base64 key and value, int64 as strings). */
export interface EtcdKv {
  key: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  lease?: string;
}

/** Reads every lease under `prefix`: subnet → lease, and the revision it was read at. */
export async function rangeLeases(client: EtcdClient, prefix: string): Promise<{ leases: Map<string, Lease>; revision: number }> {
  const res = await client.call<{ header?: { revision?: string }; kvs?: EtcdKv[] }>("/v3/kv/range", {
    key: toBase64(prefix),
    range_end: prefixRangeEnd(prefix),
  });
  const leases = new Map<string, Lease>();
  for (const kv of res.kvs ?? []) {
    const lease = kvLease(kv, prefix);
    if (lease) leases.set(lease.subnet, lease);
  }
  return { leases, revision: Number(res.header?.revision ?? 0) };
}

/** The lease stored in `kv`, if its key is under `prefix` and its value a lease record. */
function kvLease(kv: EtcdKv, prefix: string): Lease | undefined {
  const subnet = kvSubnet(kv, prefix);
  return subnet === undefined ? undefined : decodeLease(fromBase64(kv.value), subnet);
}

/** The subnet a key names, if it is `prefix` + a subnet key. */
function kvSubnet(kv: EtcdKv, prefix: string): string | undefined {
  const key = fromBase64(kv.key);
  return key.startsWith(prefix) ? subnetFromKey(key.slice(prefix.length)) : undefined;
}

/** Watches the leases under `prefix`; see SubnetStore.watch. Returns the stop function. */
export function watchPrefix(client: EtcdClient, prefix: string, onEvent: (e: LeaseEvent) => void, onError?: (err: WeftError) => void): () => void {
  let known = new Map<string, Lease>();
  let revision: number | undefined; // the last revision reflected in `known`; undefined: read again
  let stream: EtcdStream | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;

  // Delivered outside the watch loop, so a throwing callback is the caller's
  // uncaught exception rather than a broken watch.
  const emit = (event: LeaseEvent): void => queueMicrotask(() => stopped || onEvent(event));

  const resync = async (): Promise<void> => {
    const snapshot = await rangeLeases(client, prefix);
    if (stopped) return;
    for (const event of diffLeases(known, snapshot.leases)) emit(event);
    known = snapshot.leases;
    revision = snapshot.revision;
  };

  const apply = (event: { type?: string; kv?: EtcdKv }): void => {
    if (!event.kv) return;
    revision = Math.max(revision ?? 0, Number(event.kv.mod_revision ?? 0));
    const subnet = kvSubnet(event.kv, prefix);
    if (subnet === undefined) return;
    const lease = event.type === "DELETE" ? undefined : decodeLease(fromBase64(event.kv.value), subnet);
    const old = known.get(subnet);
    if (lease === undefined) {
      if (old && known.delete(subnet)) emit({ type: "delete", subnet });
    } else if (!old || !sameLease(old, lease)) {
      known.set(subnet, lease);
      emit({ type: "put", lease });
    }
  };

  // Follows one stream until it ends; returns true when etcd accepted it.
  const follow = async (): Promise<boolean> => {
    let established = false;
    let failed: WeftError | undefined;
    const from = revision! + 1;
    const s = await client.stream("/v3/watch", {
      create_request: { key: toBase64(prefix), range_end: prefixRangeEnd(prefix), start_revision: String(from) },
    }, (message, s) => {
      const result = message["result"] as WatchResult | undefined;
      if (!result) {
        failed = new WeftError(STORE_UNAVAILABLE, `etcd at ${s.endpoint} broke the watch: ${JSON.stringify(message).slice(0, 200)}`, {
          hint: "weft reconnects",
        });
        s.close();
        return;
      }
      if (result.created) established = true;
      // Compacted past `from`, or etcd is behind where we were (it came back
      // from an older backup): read everything again.
      if (result.canceled || (result.created && Number(result.header?.revision ?? 0) < from - 1)) {
        revision = undefined;
        s.close();
        return;
      }
      for (const event of result.events ?? []) apply(event);
    });
    stream = s;
    if (stopped) s.close();
    const ended = await s.ended;
    stream = undefined;
    if (failed) throw failed;
    if (ended && !established) throw ended;
    return established;
  };

  const sleep = (ms: number): Promise<void> => new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });

  void (async () => {
    let failures = 0;
    while (!stopped) {
      try {
        if (revision === undefined) await resync();
        if (!stopped && (await follow())) failures = 0;
        else failures++;
      } catch (err) {
        failures++;
        if (!stopped) onError?.(err instanceof WeftError ? err : new WeftError(STORE_UNAVAILABLE, `watching etcd failed: ${String(err)}`, { cause: err }));
      }
      if (!stopped && failures > 0) await sleep(Math.min(RETRY_MIN_MS * 2 ** (failures - 1), RETRY_MAX_MS));
    }
  })();

  return () => {
    stopped = true;
    stream?.close();
    wake?.();
  };
}

interface WatchResult {
  header?: { revision?: string };
  created?: boolean;
  canceled?: boolean;
  compact_revision?: string;
  events?: Array<{ type?: string; kv?: EtcdKv }>;
}
