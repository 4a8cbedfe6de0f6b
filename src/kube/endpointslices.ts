/**
 * EndpointSlice (discovery.k8s.io/v1) → the proxy's slim EndpointSlice
 * (proxy/types.ts). Only IPv4 slices belong to weft's proxy; a slice
 * without the kubernetes.io/service-name label belongs to no Service.
 * Conditions follow the API's rules: an absent `ready` counts as ready, an
 * absent `serving` as `ready`, an absent `terminating` as false.
 */
import type { V1EndpointSlice } from "@kubernetes/client-node";
import type { EndpointSlice } from "../proxy/types.ts";
import { defined, protocolOf } from "./services.ts";

/** The label naming a slice's Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
/** The annotation the EndpointSlice controller sets to when the change began (RFC 3339). */
export const TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time";

/** The proxy's view of `o`, or undefined when it is not an IPv4 slice of a Service. */
export function fromV1EndpointSlice(o: V1EndpointSlice): EndpointSlice | undefined {
  const namespace = o.metadata?.namespace;
  const name = o.metadata?.name;
  const service = o.metadata?.labels?.[SERVICE_NAME_LABEL];
  if (!namespace || !name || !service || o.addressType !== "IPv4") return undefined;
  const slice: EndpointSlice = {
    namespace,
    name,
    service,
    endpoints: (o.endpoints ?? []).flatMap((e) => {
      const address = e.addresses?.[0];
      if (!address) return [];
      const ready = e.conditions?.ready ?? true;
      return [{
        address,
        ready,
        serving: e.conditions?.serving ?? ready,
        terminating: e.conditions?.terminating ?? false,
        ...(e.nodeName ? { nodeName: e.nodeName } : {}),
      }];
    }),
    ports: (o.ports ?? []).flatMap((p) => (p.port === undefined || p.port === null ? [] : [{ name: p.name ?? "", protocol: protocolOf(p.protocol), port: p.port }])),
  };
  const trigger = Date.parse(o.metadata?.annotations?.[TRIGGER_TIME_ANNOTATION] ?? "");
  if (Number.isFinite(trigger)) slice.triggerTimeMs = trigger;
  return slice;
}

/**
 * What fromV1EndpointSlice reads of `o`, for an informer's cache (client.ts
 * SlimWatch): metadata's name, namespace and resourceVersion, the service
 * label and the trigger-time annotation, the address type, each endpoint's
 * first address, conditions and node, and the ports; managedFields,
 * targetRefs, zones, hints and the rest are dropped; lists and objects are
 * copied (see slimV1Service).
 * fromV1EndpointSlice(slimV1EndpointSlice(o)) is fromV1EndpointSlice(o).
 */
export function slimV1EndpointSlice(o: V1EndpointSlice): V1EndpointSlice {
  const m = o.metadata ?? {};
  const service = m.labels?.[SERVICE_NAME_LABEL];
  const trigger = m.annotations?.[TRIGGER_TIME_ANNOTATION];
  return {
    metadata: defined({
      name: m.name, namespace: m.namespace, resourceVersion: m.resourceVersion,
      labels: service === undefined ? undefined : { [SERVICE_NAME_LABEL]: service },
      annotations: trigger === undefined ? undefined : { [TRIGGER_TIME_ANNOTATION]: trigger },
    }),
    addressType: o.addressType,
    endpoints: (o.endpoints ?? []).map((e) => defined({
      addresses: e.addresses?.slice(0, 1),
      conditions: e.conditions === undefined ? undefined : defined({ ready: e.conditions.ready, serving: e.conditions.serving, terminating: e.conditions.terminating }),
      nodeName: e.nodeName,
    })),
    ...(o.ports === undefined ? {} : { ports: o.ports.map((p) => defined({ name: p.name, protocol: p.protocol, port: p.port })) }),
  };
}
