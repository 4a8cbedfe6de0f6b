/**
 * The subnet stores by name, as `--store NAME` picks them. A new store is a
 * folder beside `embedded/`, `etcd/` and `kubernetes/` plus one line in STORES.
 */
import { WeftError } from "../lib/errors.ts";
import { EmbeddedStore, type EmbeddedStoreOptions } from "./embedded/store.ts";
import { EtcdStore, type EtcdStoreOptions } from "./etcd/store.ts";
import { KubernetesStore, type KubernetesStoreOptions } from "./kubernetes/store.ts";
import type { SubnetStore } from "./types.ts";

/** Options for every store, by store name; each store reads its own (all default when absent). */
export interface StoreOptions {
  embedded?: EmbeddedStoreOptions;
  etcd?: EtcdStoreOptions;
  kubernetes?: KubernetesStoreOptions;
}

/** Makes a store from the options. */
export type StoreFactory = (options: StoreOptions) => SubnetStore;

/** Every store by name: `embedded` (one machine), `etcd` (many machines) and `kubernetes` (Nodes are the leases). */
export const STORES: Readonly<Record<string, StoreFactory>> = {
  embedded: (options) => new EmbeddedStore(options.embedded),
  etcd: (options) => new EtcdStore(options.etcd),
  kubernetes: (options) => new KubernetesStore(options.kubernetes),
};

/** The default store: the embedded one, which needs nothing else running. */
export const DEFAULT_STORE = "embedded";

/** Opens the store called `name`; throws UNKNOWN_STORE naming the known ones. */
export function createStore(name: string, options: StoreOptions = {}): SubnetStore {
  const factory = Object.hasOwn(STORES, name) ? STORES[name] : undefined;
  if (factory === undefined) {
    throw new WeftError("UNKNOWN_STORE", `unknown store "${name}"`, { hint: `use one of: ${Object.keys(STORES).join(", ")}` });
  }
  return factory(options);
}
