/**
 * A list-and-watch of one kind of object, kept as slim internal types:
 * @kubernetes/client-node's informer (list, then watch from the list's
 * resourceVersion, re-list on 410 Gone) with the objects converted at
 * this boundary. The client's informer stops on any other error; this one
 * starts again after 1 s, doubling to 30 s, and logs each failure once.
 */
import { makeInformer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import { describeError } from "../lib/errors.ts";

export interface Watched<S> {
  /** The objects now, in no particular order. */
  items(): S[];
  /** True once the first full list has arrived. */
  synced(): boolean;
  stop(): Promise<void>;
}

export interface WatchSpec<T extends KubernetesObject, S> {
  /** What it is, for logs: "services". */
  what: string;
  /** The API path: /api/v1/services. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  convert: (obj: T) => S;
  /** Called after every change (and when the first list arrives). */
  onChange: () => void;
  log: (line: string) => void;
}

export function watchKind<T extends KubernetesObject, S>(kc: KubeConfig, spec: WatchSpec<T, S>): Watched<S> {
  const objects = new Map<string, S>();
  let listed = false;
  let stopped = false;
  let retryMs = 1000;
  let retry: NodeJS.Timeout | null = null;
  const key = (o: T) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
  const informer = makeInformer<T>(kc, spec.path, async () => {
    const list = await spec.list();
    objects.clear();
    for (const o of list.items) objects.set(key(o), spec.convert(o));
    if (!listed) spec.log(`${spec.what}: listed ${list.items.length}`);
    listed = true;
    retryMs = 1000;
    queueMicrotask(spec.onChange);
    return list;
  });
  const put = (o: T) => {
    objects.set(key(o), spec.convert(o));
    spec.onChange();
  };
  informer.on("add", put);
  informer.on("update", put);
  informer.on("delete", (o) => {
    objects.delete(key(o));
    spec.onChange();
  });
  informer.on("error", (err) => {
    if (stopped) return;
    spec.log(`${spec.what}: watch failed (${describeError(err)}); again in ${retryMs / 1000} s`);
    retry = setTimeout(() => {
      retry = null;
      void informer.start();
    }, retryMs);
    retryMs = Math.min(30_000, retryMs * 2);
  });
  void informer.start();
  return {
    items: () => [...objects.values()],
    synced: () => listed,
    stop: async () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      await informer.stop();
    },
  };
}
