/**
 * A list-and-watch of one kind of object, kept only as slim internal
 * types: the objects are converted as they arrive and the API objects
 * dropped, so memory grows with what weft keeps, not with whole objects
 * (managedFields and all), which client-node's own informer (ListWatch)
 * would also hold. Lists with list.ts (raw pages), watches with
 * client-node's Watch:
 *
 *   list → watch from the list's resourceVersion (with bookmarks) → on the
 *   stream's end, watch again from the last version seen; on 410 Gone
 *   (version too old) list again; on any other failure log, wait 1 s
 *   doubling to 30 s, and go on.
 */
import { Watch, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { describeError } from "../lib/errors.ts";
import { listAll } from "./list.ts";

export interface Watched<S> {
  /** The objects now, in no particular order. */
  items(): S[];
  /** True once the first full list has arrived. */
  synced(): boolean;
  /** Stops watching; idempotent. */
  stop(): Promise<void>;
}

export interface WatchSpec<T extends KubernetesObject, S> {
  /** What it is, for logs: "services". */
  what: string;
  /** The API path: /api/v1/services (listed by list.ts, page by page). */
  path: string;
  convert: (obj: T) => S;
  /** Called after every change (and when a list arrives). */
  onChange: () => void;
  log: (line: string) => void;
}

const GONE = 410;

export function watchKind<T extends KubernetesObject, S>(kc: KubeConfig, spec: WatchSpec<T, S>): Watched<S> {
  const watch = new Watch(kc);
  const objects = new Map<string, S>();
  let listed = false;
  let stopped = false;
  /** The version to watch from; "" means list first. */
  let version = "";
  let retryMs = 1000;
  let retry: NodeJS.Timeout | null = null;
  let request: AbortController | null = null;
  const key = (o: KubernetesObject) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;

  const again = (err: unknown) => {
    if (stopped) return;
    spec.log(`${spec.what}: ${version === "" ? "list" : "watch"} failed (${describeError(err)}); again in ${retryMs / 1000} s`);
    retry = setTimeout(() => {
      retry = null;
      void run();
    }, retryMs);
    retryMs = Math.min(30_000, retryMs * 2);
  };

  const run = async (): Promise<void> => {
    if (stopped) return;
    try {
      if (version === "") {
        const list = await listAll(kc, spec.path, (o: T) => [key(o), spec.convert(o)] as const);
        if (stopped) return;
        objects.clear();
        for (const [k, s] of list.items) objects.set(k, s);
        version = list.resourceVersion;
        if (!listed) spec.log(`${spec.what}: listed ${list.items.length}`);
        listed = true;
        spec.onChange();
      }
      let failed: unknown = null;
      const started = Date.now();
      request = await watch.watch(spec.path, { resourceVersion: version, allowWatchBookmarks: true }, (type: string, obj: T & { code?: number }) => {
        if (type === "ERROR") {
          // A Status, e.g. 410 Expired: the stream ends after it.
          if (obj.code === GONE) version = "";
          else failed = new Error(`watch error ${JSON.stringify(obj)}`);
          return;
        }
        if (obj.metadata?.resourceVersion) version = obj.metadata.resourceVersion;
        if (type === "BOOKMARK") return;
        if (type === "DELETED") objects.delete(key(obj));
        else objects.set(key(obj), spec.convert(obj));
        retryMs = 1000;
        spec.onChange();
      }, (err: (Error & { statusCode?: number; name?: string }) | null) => {
        request = null;
        if (stopped) return;
        if (err && err.statusCode === GONE) version = "";
        // The stream's normal end, or the client's 30 s inactivity timeout: watch again at once,
        // unless the server keeps ending streams as soon as they start.
        const normal = !err || err.name === "TimeoutError" || err.statusCode === GONE;
        if (normal && failed === null && (version === "" || Date.now() - started > 1000)) return void run();
        again(err ?? failed ?? new Error("the API server ended the watch at once"));
      });
    } catch (err) {
      again(err);
    }
  };

  void run();
  return {
    items: () => [...objects.values()],
    synced: () => listed,
    stop: async () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      request?.abort();
    },
  };
}
