/**
 * Where a weft component finds the API server: the kubeconfig file it was
 * given, else the in-cluster service account (KUBERNETES_SERVICE_HOST and
 * /var/run/secrets/kubernetes.io/serviceaccount, as a Deployment's pod
 * has), else $KUBECONFIG or ~/.kube/config.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { WeftError } from "../lib/errors.ts";

export const KUBECONFIG_INVALID = "KUBECONFIG_INVALID";

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path !== undefined) kc.loadFromFile(path);
    else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else kc.loadFromDefault();
  } catch (err) {
    throw new WeftError(KUBECONFIG_INVALID, `cannot load ${path === undefined ? "the Kubernetes client configuration" : `kubeconfig ${path}`}: ${(err as Error).message}`, {
      hint: "give --kubeconfig FILE, or run inside a pod with a service account",
      cause: err,
    });
  }
  if (!kc.getCurrentCluster()) {
    throw new WeftError(KUBECONFIG_INVALID, `${path ?? "the Kubernetes client configuration"} names no cluster`, { hint: "give --kubeconfig FILE with a current-context" });
  }
  return kc;
}
