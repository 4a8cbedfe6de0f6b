/**
 * Informers on Services and EndpointSlices (discovery.k8s.io/v1) for the
 * service proxy, on @kubernetes/client-node. The library is loaded with a
 * dynamic import, only when the proxy is on: bundled it costs about 450 ms
 * and 43 MB at start, which an agent without the proxy should not pay.
 *
 * Objects are converted to the proxy's slim types here (services.ts,
 * endpointslices.ts) and handed to a sink; the informers' own caches hold
 * only the fields the conversions read (slimV1Service,
 * slimV1EndpointSlice), not whole objects; the sink hears that a kind is
 * synced only once that kind's first list has been delivered, and the proxy
 * waits for both. An informer that fails (API server down, watch refused)
 * is started again with a doubling delay, up to 30 s; each outage is logged
 * once, and its end.
 */
import type { KubernetesObject, V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import { describeError } from "../lib/errors.ts";
import { listAll } from "./list.ts";
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
  const k8s = await import("@kubernetes/client-node");
  const { SlimWatch } = await import("./client.ts");
  const config = (await import("./kubeconfig.ts")).loadKubeConfig(kubeconfig);

  const services = new Runner<V1Service>(k8s, config, "/api/v1/services", "Services", log, {
    upsert: (o) => {
      const s = fromV1Service(o);
      if (s) sink.upsertService(s);
    },
    remove: (o) => {
      if (o.metadata?.namespace && o.metadata.name) sink.deleteService(o.metadata.namespace, o.metadata.name);
    },
    synced: () => sink.markServicesSynced(),
  }, (config) => new SlimWatch(config, slimV1Service), slimV1Service);
  const slices = new Runner<V1EndpointSlice>(k8s, config, "/apis/discovery.k8s.io/v1/endpointslices", "EndpointSlices", log, {
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
  }, (config) => new SlimWatch(config, slimV1EndpointSlice), slimV1EndpointSlice);
  services.start();
  slices.start();
  return { stop: async () => void (await Promise.all([services.stop(), slices.stop()])) };
}

type ClientNode = typeof import("@kubernetes/client-node");

export interface Handlers<T> {
  upsert(o: T): void;
  remove(o: T): void;
  synced(): void;
}

/** One informer with restart on failure (the policy's informers use it too). */
export class Runner<T extends KubernetesObject> {
  readonly #informer: ReturnType<ClientNode["makeInformer"]>;
  readonly #what: string;
  readonly #log: (line: string) => void;
  readonly #handlers: Handlers<T>;
  #listed = false;
  #synced = false;
  #failures = 0;
  #down = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;

  /**
   * With `watch` and `slim` (a projection that keeps metadata's name,
   * namespace and resourceVersion, see client.ts SlimWatch), the informer
   * caches slim(object) for every listed and watched object instead of the
   * object, and the handlers get those.
   */
  constructor(
    k8s: ClientNode, config: InstanceType<ClientNode["KubeConfig"]>, path: string, what: string, log: (line: string) => void, handlers: Handlers<T>,
    watch?: (config: InstanceType<ClientNode["KubeConfig"]>) => InstanceType<ClientNode["Watch"]>, slim?: (o: T) => T,
  ) {
    this.#what = what;
    this.#log = log;
    this.#handlers = handlers;
    // Raw pages, each slimmed as it arrives (list.ts), in the shape ListWatch takes.
    const listed = async () => {
      const l = await listAll(config, path, slim ?? ((o: T) => o));
      this.#listed = true;
      return { metadata: { resourceVersion: l.resourceVersion }, items: l.items };
    };
    this.#informer = watch === undefined ? k8s.makeInformer(config, path, listed as never) : new k8s.ListWatch(path, watch(config), listed as never, false);
    this.#informer.on(k8s.ADD, (o) => handlers.upsert(o as T));
    this.#informer.on(k8s.UPDATE, (o) => handlers.upsert(o as T));
    this.#informer.on(k8s.DELETE, (o) => handlers.remove(o as T));
    this.#informer.on(k8s.ERROR, (err) => this.#failed(err));
  }

  start(): void {
    if (this.#stopped) return;
    this.#listed = false;
    void this.#informer.start().then(() => {
      if (!this.#listed || this.#stopped) return; // the list failed: #failed has scheduled a restart
      if (this.#down) this.#log(`${this.#what} informer is back`);
      this.#down = false;
      this.#failures = 0;
      if (!this.#synced) {
        this.#synced = true;
        this.#handlers.synced();
      }
    });
  }

  #failed(err: unknown): void {
    if (this.#stopped) return;
    const delay = Math.min(500 * 2 ** this.#failures++, 30_000);
    if (!this.#down) this.#log(`${this.#what} informer failed: ${describeError(err)}; restarting it (every ≤ 30 s) until it works`);
    this.#down = true;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.start(), delay);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#informer.stop();
  }
}
