/**
 * A list-and-watch of one kind of object, kept only as slim internal
 * types: the objects are converted as they arrive and the API objects
 * dropped, so memory grows with what weft keeps, not with whole objects
 * (managedFields and all), which client-node's own informer (ListWatch)
 * would also hold. The listing, watching and retrying are
 * stream-informer.ts's; this keeps the converted objects for a consumer
 * that reads them all at once (the DNS source's snapshot).
 */
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { StreamInformer } from "./stream-informer.ts";

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
  /** Called after every change once the first list has arrived, and when it arrives. */
  onChange: () => void;
  log: (line: string) => void;
}

export function watchKind<T extends KubernetesObject, S>(kc: KubeConfig, spec: WatchSpec<T, S>): Watched<S> {
  const objects = new Map<string, S>();
  let listed = false;
  const key = (o: KubernetesObject) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
  const informer = new StreamInformer<T>(kc, spec.path, spec.what, spec.log, {
    upsert: (o) => {
      objects.set(key(o), spec.convert(o));
      if (listed) spec.onChange();
    },
    remove: (o) => {
      objects.delete(key(o));
      if (listed) spec.onChange();
    },
    synced: () => {
      listed = true;
      spec.log(`${spec.what}: listed ${objects.size}`);
      spec.onChange();
    },
  });
  informer.start();
  return {
    items: () => [...objects.values()],
    synced: () => listed,
    stop: () => informer.stop(),
  };
}
