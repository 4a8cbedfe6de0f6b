/**
 * An EndpointSlice (discovery.k8s.io/v1) as weft's code sees it, converted at
 * the client boundary from the library's V1EndpointSlice. A Service's
 * endpoints are the union of the slices labelled with its name
 * (`kubernetes.io/service-name`).
 */
import type { V1EndpointSlice } from "@kubernetes/client-node";
import type { Protocol } from "./dns-services.ts";

export type AddressType = "IPv4" | "IPv6" | "FQDN";

export interface Endpoint {
  /** The endpoint's addresses, all of the slice's address type (in practice one). */
  addresses: string[];
  /** `conditions.ready`; an absent condition means ready, as the API documents. */
  ready: boolean;
  /** `conditions.serving`; absent means the value of ready. */
  serving: boolean;
  /** `conditions.terminating`; absent means false. */
  terminating: boolean;
  /** `hostname` (a StatefulSet pod's name under a headless Service), or null. */
  hostname: string | null;
  nodeName: string | null;
}

export interface EndpointPort {
  /** "" when unnamed. */
  name: string;
  /** null means "all ports" (the API allows it; such a port has no SRV record). */
  port: number | null;
  protocol: Protocol;
}

export interface EndpointSlice {
  namespace: string;
  name: string;
  /** The owning Service's name (label kubernetes.io/service-name), or null for a slice of no Service. */
  service: string | null;
  addressType: AddressType;
  endpoints: Endpoint[];
  ports: EndpointPort[];
}

/** The label that ties a slice to its Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

export function fromV1EndpointSlice(s: V1EndpointSlice): EndpointSlice {
  return {
    namespace: s.metadata?.namespace ?? "default",
    name: s.metadata?.name ?? "",
    service: s.metadata?.labels?.[SERVICE_NAME_LABEL] ?? null,
    addressType: s.addressType as AddressType,
    endpoints: (s.endpoints ?? []).map((e) => {
      const ready = e.conditions?.ready ?? true;
      return {
        addresses: [...e.addresses],
        ready,
        serving: e.conditions?.serving ?? ready,
        terminating: e.conditions?.terminating ?? false,
        hostname: e.hostname ?? null,
        nodeName: e.nodeName ?? null,
      };
    }),
    ports: (s.ports ?? []).map((p) => ({ name: p.name ?? "", port: p.port ?? null, protocol: (p.protocol ?? "TCP") as Protocol })),
  };
}
