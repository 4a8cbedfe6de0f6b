/**
 * Informers on Pods, Namespaces and NetworkPolicies for the network policy
 * controller, on @kubernetes/client-node, loaded with a dynamic import only
 * when policy is on (the library costs hundreds of milliseconds and tens of
 * MB at start). Objects are converted to the policy's slim types here
 * (policy-pods.ts, network-policies.ts); each kind reports "synced" once its
 * first list has been delivered, and the controller waits for all three.
 * Failed informers restart with a doubling delay; none keeps a copy of the
 * objects (stream-informer.ts).
 *
 * Every pod of the cluster is watched, not only this node's: a policy's
 * peers can be anywhere; each arrives slimmed to what policy reads
 * (slimV1PolicyPod).
 */
import type { V1Namespace, V1NetworkPolicy, V1Pod } from "@kubernetes/client-node";
import type { Namespace, NetworkPolicy, Pod } from "../policy/types.ts";
import { fromV1NetworkPolicy } from "./network-policies.ts";
import { policyNamespaceOf, policyPodOf, slimV1PolicyPod } from "./policy-pods.ts";

/** What the informers feed (PolicyController implements it). */
export interface PolicySink {
  upsertPod(p: Pod): void;
  deletePod(namespace: string, name: string): void;
  upsertNamespace(n: Namespace): void;
  deleteNamespace(name: string): void;
  upsertPolicy(p: NetworkPolicy): void;
  deletePolicy(namespace: string, name: string): void;
  markPodsSynced(): void;
  markNamespacesSynced(): void;
  markPoliciesSynced(): void;
}

export interface PolicyInformers {
  /** Reads one pod from the API server (not the cache); undefined when it does not exist or has finished. */
  getPod(namespace: string, name: string): Promise<Pod | undefined>;
  /** Stops all three; idempotent. */
  stop(): Promise<void>;
}

/** Starts the informers against `kubeconfig` (a path) or the in-cluster service account; resolves once they run. */
export async function startPolicyInformers(kubeconfig: string | undefined, sink: PolicySink, log: (line: string) => void): Promise<PolicyInformers> {
  const k8s = await import("@kubernetes/client-node");
  const { StreamInformer } = await import("./stream-informer.ts");
  const config = (await import("./kubeconfig.ts")).loadKubeConfig(kubeconfig);
  const core = config.makeApiClient(k8s.CoreV1Api);
  const named = (o: { metadata?: { namespace?: string; name?: string } }) => (o.metadata?.name ? { namespace: o.metadata.namespace ?? "", name: o.metadata.name } : undefined);

  const pods = new StreamInformer<V1Pod>(config, "/api/v1/pods", "Pods", log, {
    upsert: (o) => {
      const p = policyPodOf(o);
      const n = named(o);
      // A finished pod no longer holds its address: gone, to policy.
      if (p) sink.upsertPod(p);
      else if (n) sink.deletePod(n.namespace, n.name);
    },
    remove: (o) => {
      const n = named(o);
      if (n) sink.deletePod(n.namespace, n.name);
    },
    synced: () => sink.markPodsSynced(),
  }, slimV1PolicyPod);
  const namespaces = new StreamInformer<V1Namespace>(config, "/api/v1/namespaces", "Namespaces", log, {
    upsert: (o) => {
      const n = policyNamespaceOf(o);
      if (n) sink.upsertNamespace(n);
    },
    remove: (o) => {
      if (o.metadata?.name) sink.deleteNamespace(o.metadata.name);
    },
    synced: () => sink.markNamespacesSynced(),
  });
  const policies = new StreamInformer<V1NetworkPolicy>(config, "/apis/networking.k8s.io/v1/networkpolicies", "NetworkPolicies", log, {
    upsert: (o) => {
      const p = fromV1NetworkPolicy(o);
      if (p) sink.upsertPolicy(p);
    },
    remove: (o) => {
      const n = named(o);
      if (n) sink.deletePolicy(n.namespace, n.name);
    },
    synced: () => sink.markPoliciesSynced(),
  });
  for (const r of [pods, namespaces, policies]) r.start();
  return {
    getPod: async (namespace, name) => {
      try {
        return policyPodOf(await core.readNamespacedPod({ namespace, name }));
      } catch (err) {
        if ((err as { code?: number }).code === 404) return undefined;
        throw err;
      }
    },
    stop: async () => void (await Promise.all([pods.stop(), namespaces.stop(), policies.stop()])),
  };
}
