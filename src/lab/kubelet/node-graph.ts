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
 */
import { apiStatus } from "../../kube/client.ts";
import { sleep } from "../../lib/sleep.ts";

/** A request refused with 403 is asked again after this, ... */
const GRAPH_RETRY_MS = 20;
/** ... for up to this long; then the refusal is the caller's (the pod's volume back-off). */
const GRAPH_RETRY_FOR_MS = 1500;

/**
 * Runs `ask` and asks again every `retryMs` while the API server refuses
 * it with 403, for up to `forMs`; a refusal is one cheap request. Any other
 * error, or a 403 after `forMs`, is thrown.
 */
export async function whileGraphLags<T>(ask: () => Promise<T>, retryMs = GRAPH_RETRY_MS, forMs = GRAPH_RETRY_FOR_MS): Promise<T> {
  const until = Date.now() + forMs;
  for (;;) {
    try {
      return await ask();
    } catch (err) {
      if (apiStatus(err) !== 403 || Date.now() >= until) throw err;
      await sleep(retryMs);
    }
  }
}
