/**
 * The service proxy as an agent component: the ServiceProxy fed by
 * informers on Services and EndpointSlices. The agent starts it once it
 * knows its node's pod subnet, adds its metrics to /metrics and its ports to
 * status, and stops it on shutdown (the table stays, so services keep
 * working across a restart).
 */
import type { Runner } from "../kernel/runner.ts";
import { startServiceInformers, type ServiceInformers } from "../kube/service-informers.ts";
import { ServiceProxy, type ServiceProxyOptions } from "./proxy.ts";

export interface ServiceProxyComponentOptions extends Omit<ServiceProxyOptions, "runner" | "log"> {
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

  /** Starts informers and proxy; the first sync follows once both informers have listed. Throws KUBECONFIG_INVALID or on bad options. */
  static async start(o: ServiceProxyComponentOptions): Promise<ServiceProxyComponent> {
    const { kubeconfig, ...rest } = o;
    const proxy = new ServiceProxy(rest);
    const informers = await startServiceInformers(kubeconfig, proxy, (line) => o.log(line));
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
