/**
 * Network policy as an agent component: the PolicyController fed by
 * informers on Pods, Namespaces and NetworkPolicies. The agent starts it
 * (when it has a Kubernetes API), adds its metrics to /metrics and its
 * status to /policy, and stops it on shutdown; the table stays, so pods stay
 * protected while the agent restarts.
 */
import type { Runner } from "../kernel/runner.ts";
import { startPolicyInformers, type PolicyInformers } from "../kube/policy-informers.ts";
import { PolicyController, type PodAddedAnswer, type PolicyControllerOptions, type PolicyStatus } from "./controller.ts";
import type { ExplainQuery, Explanation } from "./explain.ts";

export interface PolicyComponentOptions extends Omit<PolicyControllerOptions, "runner" | "log"> {
  /** A kubeconfig path; undefined means the in-cluster service account. */
  kubeconfig: string | undefined;
  runner: Runner;
  log: (line: string) => void;
}

export class PolicyComponent {
  readonly controller: PolicyController;
  readonly #informers: PolicyInformers;
  #stopped: Promise<void> | undefined;

  private constructor(controller: PolicyController, informers: PolicyInformers) {
    this.controller = controller;
    this.#informers = informers;
  }

  /** Starts informers and controller; the first sync follows once all three kinds are listed. Throws KUBECONFIG_INVALID. */
  static async start(o: PolicyComponentOptions): Promise<PolicyComponent> {
    const { kubeconfig, ...rest } = o;
    const controller = new PolicyController(rest);
    const informers = await startPolicyInformers(kubeconfig, controller, (line) => o.log(line));
    return new PolicyComponent(controller, informers);
  }

  /** The component's families for /metrics, with the drop counters read now. */
  async metricsText(): Promise<string> {
    await this.controller.readCounters().catch(() => {});
    return this.controller.metrics.render().text();
  }

  status(): PolicyStatus {
    return this.controller.status();
  }

  explain(q: ExplainQuery): Explanation {
    return this.controller.explain(q);
  }

  podAdded(namespace: string, name: string, ip: string): Promise<PodAddedAnswer> {
    return this.controller.podAdded(namespace, name, ip, undefined, () => this.#informers.getPod(namespace, name));
  }

  /** Stops informers and syncing; idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      await this.#informers.stop();
      await this.controller.stop();
    })();
    return this.#stopped;
  }
}
