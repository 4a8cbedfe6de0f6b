/**
 * The service proxy as an agent component: the ServiceProxy fed by
 * informers on Services and EndpointSlices. The agent starts it before it
 * has leased its node's pod subnet: the informers need only the API server,
 * so they list while the agent leases, and what they deliver meanwhile is
 * kept (Pending) and handed to the proxy, made once the subnet is known
 * (its pods are the ones externalTrafficPolicy Local keeps internal). The
 * agent adds its metrics to /metrics and its ports to status, and stops it
 * on shutdown (the table stays, so services keep working across a restart).
 */
import type { Runner } from "../kernel/runner.ts";
import { startServiceInformers, type ServiceInformers, type ServiceSink } from "../kube/service-informers.ts";
import type { EndpointSlice, Service } from "./types.ts";
import { ServiceProxy, type ServiceProxyOptions } from "./proxy.ts";

export interface ServiceProxyComponentOptions extends Omit<ServiceProxyOptions, "runner" | "log" | "nodePodCidr"> {
  /** The node's pod subnet; the informers start at once, the proxy once this resolves. A rejection stops the informers and start() with it. */
  nodePodCidr: string | Promise<string>;
  /** A kubeconfig path; undefined means the in-cluster service account. */
  kubeconfig: string | undefined;
  runner: Runner;
  log: (line: string) => void;
}

export class ServiceProxyComponent {
  readonly proxy: ServiceProxy;
  readonly #informers: ServiceInformers;
  #stopped: Promise<void> | undefined;

  private constructor(proxy: ServiceProxy, informers: ServiceInformers) {
    this.proxy = proxy;
    this.#informers = informers;
  }

  /**
   * Starts the informers, then, once `nodePodCidr` is known, the proxy; the
   * first sync follows once both informers have listed. Throws
   * KUBECONFIG_INVALID, on bad options, or what `nodePodCidr` rejects with.
   */
  static async start(o: ServiceProxyComponentOptions): Promise<ServiceProxyComponent> {
    const { kubeconfig, nodePodCidr, ...rest } = o;
    const pending = new Pending();
    const informers = await startServiceInformers(kubeconfig, pending, (line) => o.log(line));
    let proxy: ServiceProxy;
    try {
      proxy = new ServiceProxy({ ...rest, nodePodCidr: await nodePodCidr });
    } catch (err) {
      await informers.stop();
      throw err;
    }
    pending.handTo(proxy);
    return new ServiceProxyComponent(proxy, informers);
  }

  /** The component's families for the agent's /metrics. */
  metricsText(): string {
    return this.proxy.metrics.render().text();
  }

  /** Stops informers and syncing; idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      await this.#informers.stop();
      await this.proxy.stop();
    })();
    return this.#stopped;
  }
}

/**
 * A ServiceSink that keeps what the informers deliver until the proxy
 * exists (the latest of each object, and which kinds have synced), then
 * hands it over in one go and passes everything on from there. The proxy
 * starts empty, so a deletion before then only forgets.
 */
class Pending implements ServiceSink {
  #to: ServiceSink | undefined;
  /** By namespace/name. */
  #services = new Map<string, Service>();
  #slices = new Map<string, EndpointSlice>();
  #servicesSynced = false;
  #slicesSynced = false;

  upsertService(s: Service): void {
    if (this.#to) this.#to.upsertService(s);
    else this.#services.set(`${s.namespace}/${s.name}`, s);
  }

  deleteService(namespace: string, name: string): void {
    if (this.#to) this.#to.deleteService(namespace, name);
    else this.#services.delete(`${namespace}/${name}`);
  }

  upsertSlice(s: EndpointSlice): void {
    if (this.#to) this.#to.upsertSlice(s);
    else this.#slices.set(`${s.namespace}/${s.name}`, s);
  }

  deleteSlice(namespace: string, name: string): void {
    if (this.#to) this.#to.deleteSlice(namespace, name);
    else this.#slices.delete(`${namespace}/${name}`);
  }

  markServicesSynced(): void {
    if (this.#to) this.#to.markServicesSynced();
    else this.#servicesSynced = true;
  }

  markSlicesSynced(): void {
    if (this.#to) this.#to.markSlicesSynced();
    else this.#slicesSynced = true;
  }

  /** Delivers everything kept to `to` (objects, then synced, as a live sink hears them) and forwards from now on. */
  handTo(to: ServiceSink): void {
    for (const s of this.#services.values()) to.upsertService(s);
    for (const s of this.#slices.values()) to.upsertSlice(s);
    this.#services.clear();
    this.#slices.clear();
    this.#to = to;
    if (this.#servicesSynced) to.markServicesSynced();
    if (this.#slicesSynced) to.markSlicesSynced();
  }
}
