/**
 * An informer that hands every object to its handlers and keeps none of
 * them: only the keys (namespace/name) it has delivered, so that a list
 * made again can report the objects that went while nobody watched. Its
 * consumers, the service proxy and the policy controller, keep their own
 * slim state; client-node's ListWatch kept a second copy of every object
 * in its cache, even slimmed (10,000 Services and their EndpointSlices:
 * ~40 MB of the agent's heap).
 *
 *   list (list.ts: raw pages, slimmed as they arrive) → watch from its
 *   resourceVersion, with bookmarks → when the stream ends (or the client's
 *   inactivity timeout cuts it) watch again from the last version seen; on
 *   410 Gone list again; on any other failure wait 0.5 s, doubling to 30 s,
 *   and go on. An outage is logged once, and its end.
 *
 * A relist delivers every listed object again as an upsert: the consumers'
 * upserts are idempotent (they compare), as with client-go's resync.
 */
import type { KubeConfig, KubernetesObject, Watch } from "@kubernetes/client-node";
import { describeError } from "../lib/errors.ts";
import { SlimWatch } from "./client.ts";
import { LeanWatch } from "./watch.ts";
import { listAll } from "./list.ts";

export interface Handlers<T> {
  /** An object listed, added or modified. */
  upsert(o: T): void;
  /** An object deleted; after a relist, one that is no longer there (only its metadata's namespace and name are set then). */
  remove(o: T): void;
  /** Once, after the first list has been delivered. */
  synced(): void;
}

const GONE = 410;

export class StreamInformer<T extends KubernetesObject> {
  readonly #config: KubeConfig;
  readonly #path: string;
  readonly #what: string;
  readonly #log: (line: string) => void;
  readonly #handlers: Handlers<T>;
  readonly #watch: Watch;
  readonly #slim: (o: T) => T;
  /** The keys delivered and not removed since. */
  #keys = new Set<string>();
  /** The version to watch from; "" means list first. */
  #version = "";
  #synced = false;
  #failures = 0;
  #down = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #request: AbortController | null = null;

  /** `slim`, when given, projects every listed and watched object to what the handlers read. */
  constructor(config: KubeConfig, path: string, what: string, log: (line: string) => void, handlers: Handlers<T>, slim?: (o: T) => T) {
    this.#config = config;
    this.#path = path;
    this.#what = what;
    this.#log = log;
    this.#handlers = handlers;
    this.#watch = slim === undefined ? new LeanWatch(config) : new SlimWatch(config, slim);
    this.#slim = slim ?? ((o) => o);
  }

  start(): void {
    void this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#request?.abort();
  }

  async #run(): Promise<void> {
    if (this.#stopped) return;
    try {
      if (this.#version === "") await this.#list();
      if (this.#stopped) return;
      let failed: unknown = null;
      const started = Date.now();
      this.#request = await this.#watch.watch(this.#path, { resourceVersion: this.#version, allowWatchBookmarks: true }, (type: string, obj: T & { code?: number }) => {
        if (type === "ERROR") {
          // A Status (410 Expired, ...): the stream ends after it.
          if (obj.code === GONE) this.#version = "";
          else failed = new Error(`watch error: ${JSON.stringify(obj)}`);
          return;
        }
        if (obj.metadata?.resourceVersion) this.#version = obj.metadata.resourceVersion;
        if (type === "BOOKMARK") return;
        const key = keyOf(obj);
        if (type === "DELETED") {
          this.#keys.delete(key);
          this.#handlers.remove(obj);
        } else {
          this.#keys.add(key);
          this.#handlers.upsert(obj);
        }
      }, (err: (Error & { statusCode?: number }) | null) => {
        this.#request = null;
        if (this.#stopped) return;
        if (err?.statusCode === GONE) this.#version = "";
        // The stream's normal end, or the client's inactivity timeout: watch again at once,
        // unless the server keeps ending streams as soon as they start.
        const normal = !err || err.name === "TimeoutError" || err.statusCode === GONE;
        if (normal && failed === null && (this.#version === "" || Date.now() - started > 1000)) return void this.#run();
        this.#failed(err ?? failed ?? new Error("the API server ended the watch at once"));
      });
      // stop() while the watch was connecting found no request to abort.
      if (this.#stopped) return void this.#request?.abort();
      this.#up();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === GONE) this.#version = "";
      this.#failed(err);
    }
  }

  async #list(): Promise<void> {
    const listed = await listAll(this.#config, this.#path, this.#slim);
    if (this.#stopped) return;
    const before = this.#keys;
    this.#keys = new Set();
    for (const o of listed.items) {
      const key = keyOf(o);
      this.#keys.add(key);
      before.delete(key);
      this.#handlers.upsert(o);
    }
    for (const key of before) {
      const slash = key.indexOf("/");
      this.#handlers.remove({ metadata: { namespace: key.slice(0, slash) || undefined, name: key.slice(slash + 1) } } as T);
    }
    this.#version = listed.resourceVersion;
    this.#up();
    if (!this.#synced) {
      this.#synced = true;
      this.#handlers.synced();
    }
  }

  #up(): void {
    if (this.#down) this.#log(`${this.#what} informer is back`);
    this.#down = false;
    this.#failures = 0;
  }

  #failed(err: unknown): void {
    if (this.#stopped) return;
    const delay = Math.min(500 * 2 ** this.#failures++, 30_000);
    if (!this.#down) this.#log(`${this.#what} informer failed: ${describeError(err)}; restarting it (every ≤ 30 s) until it works`);
    this.#down = true;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#run(), delay);
  }
}

function keyOf(o: KubernetesObject): string {
  return `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
}
