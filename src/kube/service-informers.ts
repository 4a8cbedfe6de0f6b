/**
 * Informers on Services and EndpointSlices (discovery.k8s.io/v1) for the
 * service proxy, on @kubernetes/client-node. The library is loaded with a
 * dynamic import, only when the proxy is on: bundled it costs about 450 ms
 * and 43 MB at start, which an agent without the proxy should not pay.
 *
 * Objects are slimmed as they arrive (slimV1Service, slimV1EndpointSlice),
 * converted to the proxy's types here (services.ts, endpointslices.ts) and
 * handed to a sink; the informers keep no copy (stream-informer.ts). The
 * sink hears that a kind is synced only once that kind's first list has
 * been delivered, and the proxy waits for both. An informer that fails
 * (API server down, watch refused) is started again with a doubling delay,
 * up to 30 s; each outage is logged once, and its end.
 */
import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import { fromV1EndpointSlice, slimV1EndpointSlice } from "./endpointslices.ts";
import { fromV1Service, slimV1Service } from "./services.ts";
import type { EndpointSlice, Service } from "../proxy/types.ts";

/** What the informers feed (ServiceProxy implements it). */
export interface ServiceSink {
  upsertService(s: Service): void;
  deleteService(namespace: string, name: string): void;
  upsertSlice(s: EndpointSlice): void;
  deleteSlice(namespace: string, name: string): void;
  markServicesSynced(): void;
  markSlicesSynced(): void;
}

/** Running informers. */
export interface ServiceInformers {
  /** Stops both; idempotent. */
  stop(): Promise<void>;
}


/**
 * Starts both informers against the cluster in `kubeconfig` (a path), or the
 * in-cluster service account when undefined. Resolves once they are running
 * (not synced: the sink hears that).
 */
export async function startServiceInformers(kubeconfig: string | undefined, sink: ServiceSink, log: (line: string) => void): Promise<ServiceInformers> {
  const { StreamInformer } = await import("./stream-informer.ts");
  const config = (await import("./kubeconfig.ts")).loadKubeConfig(kubeconfig);

  const services = new StreamInformer<V1Service>(config, "/api/v1/services", "Services", log, {
    upsert: (o) => {
      const s = fromV1Service(o);
      if (s) sink.upsertService(s);
    },
    remove: (o) => {
      if (o.metadata?.namespace && o.metadata.name) sink.deleteService(o.metadata.namespace, o.metadata.name);
    },
    synced: () => sink.markServicesSynced(),
  }, slimV1Service);
  const slices = new StreamInformer<V1EndpointSlice>(config, "/apis/discovery.k8s.io/v1/endpointslices", "EndpointSlices", log, {
    upsert: (o) => {
      const s = fromV1EndpointSlice(o);
      // A slice that lost its Service label or is not IPv4 is, to the proxy, gone.
      if (s) sink.upsertSlice(s);
      else if (o.metadata?.namespace && o.metadata.name) sink.deleteSlice(o.metadata.namespace, o.metadata.name);
    },
    remove: (o) => {
      if (o.metadata?.namespace && o.metadata.name) sink.deleteSlice(o.metadata.namespace, o.metadata.name);
    },
    synced: () => sink.markSlicesSynced(),
  }, slimV1EndpointSlice);
  services.start();
  slices.start();
  return { stop: async () => void (await Promise.all([services.stop(), slices.stop()])) };
}
