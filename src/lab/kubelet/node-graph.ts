/**
 * The Node authorizer's lag, and how the lab kubelet rides it out.
 *
 * The API server allows a node a pod's TokenRequest, and the ConfigMaps
 * and Secrets its volumes and env name, once its Node authorizer's graph
 * links them to a pod bound to that node. The graph follows the API
 * through a watch of its own, so a kubelet that saw the binding first is
 * refused (403, "no relationship found between node ... and this object")
 * for a few ms, or for hundreds when the API server is busy starting many
 * pods. Measured: about one pod in a hundred of a 30-pod burst, which then
 * waited out the pod's 2 s volume back-off with a FailedMount event,
 * although nothing was wrong.
 *
 * A TokenRequest has a second such refusal: 404 for the pod the token is
 * bound to ("pod NAME not found"), which the API server looks up in a view
 * of its own that can lag the same way (seen once in about 250 pods).
 */
import { ApiException } from "@kubernetes/client-node";
import { apiStatus } from "../../kube/client.ts";
import { sleep } from "../../lib/sleep.ts";

/** A request refused with 403 is asked again after this, ... */
const GRAPH_RETRY_MS = 20;
/** ... for up to this long; then the refusal is the caller's (the pod's volume back-off). */
const GRAPH_RETRY_FOR_MS = 1500;

/** True for a 403, which for these requests is the Node authorizer's (one that lasts past the retry window is thrown as it is). */
export function refusedByGraph(err: unknown): boolean {
  return apiStatus(err) === 403;
}

/** True for a TokenRequest's 404 for the pod `podName` it is bound to (not for a missing ServiceAccount). */
export function boundPodMissing(err: unknown, podName: string): boolean {
  if (!(err instanceof ApiException) || err.code !== 404) return false;
  try {
    const details = (JSON.parse(String(err.body)) as { details?: { kind?: string; name?: string } }).details;
    return (details?.kind === "pod" || details?.kind === "pods") && details.name === podName;
  } catch {
    return false;
  }
}

/**
 * Runs `ask` and asks again every `retryMs` while it fails with an error
 * `lagging` accepts (default: the Node authorizer's 403), for up to
 * `forMs`; a refusal is one cheap request. Any other error, or one after
 * `forMs`, is thrown.
 */
export async function whileGraphLags<T>(ask: () => Promise<T>, lagging: (err: unknown) => boolean = refusedByGraph, retryMs = GRAPH_RETRY_MS, forMs = GRAPH_RETRY_FOR_MS): Promise<T> {
  const until = Date.now() + forMs;
  for (;;) {
    try {
      return await ask();
    } catch (err) {
      if (!lagging(err) || Date.now() >= until) throw err;
      await sleep(retryMs);
    }
  }
}
