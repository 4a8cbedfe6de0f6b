/**
 * Where `weft dns` gets the cluster's objects: a snapshot of the slim types
 * (src/kube/), a change signal and a synced flag. The Kubernetes-backed
 * source (kube-source.ts) fills it from informers; tests use the in-memory
 * FakeSource (fake-source.ts). The DNS records are a pure function of the
 * snapshot (records.ts), so nothing else needs the API.
 */
import type { EndpointSlice } from "../kube/dns-endpointslices.ts";
import type { PodAddresses } from "../kube/pod-addresses.ts";
import type { Service } from "../kube/dns-services.ts";

/** The cluster objects DNS answers from, at one moment. */
export interface DnsSnapshot {
  services: readonly Service[];
  endpointSlices: readonly EndpointSlice[];
  /** Names of the namespaces that exist. */
  namespaces: readonly string[];
  /** Pods' addresses; filled only when the source watches pods (`pods: verified`), else empty. */
  pods: readonly PodAddresses[];
}

export interface DnsSource {
  /** The current objects. Cheap to call; the caller must not change what it gets. */
  snapshot(): DnsSnapshot;
  /** True once every watched kind has been listed in full; until then the cluster zone answers SERVFAIL. */
  synced(): boolean;
  /** Calls `listener` after any change (and once when synced); returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
  /** Stops watching; idempotent. */
  close(): Promise<void>;
}

export const EMPTY_SNAPSHOT: DnsSnapshot = { services: [], endpointSlices: [], namespaces: [], pods: [] };
