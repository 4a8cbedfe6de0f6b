/**
 * ADD's last step: tell the node's agent the new pod's address, and wait
 * until its network policy covers it, so a pod that a policy selects is
 * isolated before the runtime starts its containers. Without this the
 * agent learns the address from the Pod's status.podIPs, which the kubelet
 * writes only after ADD returns: a window in which the pod is open.
 *
 * The agent listens on RUN_DIR/agent.sock, beside the subnet file it writes
 * (RUN_DIR/subnet.env), so the plugin finds it without configuration. The
 * request is one HTTP/1.1 POST of {"namespace","name","ip"} to /policy/pods
 * on that socket, written with libc like the rest of the plugin (no Node
 * APIs, no dependencies); the agent answers once the nft table in the
 * kernel has the pod (PolicyController.podAdded).
 *
 * Fail-open or fail-closed:
 *   - nobody listens on the socket (no agent on the node, or it is
 *     restarting): ADD goes on. A node's pods keep starting while its agent
 *     is down (docs/DESIGN.md); the agent's first sync when it is back
 *     covers the pod, and the table of the agent before it stays in the
 *     kernel meanwhile, so existing pods stay isolated. Connecting costs
 *     about 20 µs, so this costs nothing where there is no agent.
 *   - the agent runs no network policy (503 POLICY_OFF), or does not know
 *     the pod (not in the API, so no policy can select it): ADD goes on.
 *   - the agent runs policy but cannot program the pod (not synced yet, a
 *     failed sync) or does not answer within ANNOUNCE_TIMEOUT_MS:
 *     fail-closed. ADD fails with code 11 (try again later) and undoes
 *     what it made; the runtime retries the sandbox, as it does for a
 *     missing subnet file. A pod that may be selected by a policy never
 *     starts open.
 */
import { CniError, ERR_TRY_AGAIN_LATER } from "./errors.ts";
import { readAll, writeAll } from "../sys/files.ts";
import { IoError, type Syscalls } from "../sys/syscalls.ts";

/** How long ADD waits for the agent: a sync is ~10 ms, 100 ms apart at most under a burst of ADDs. */
export const ANNOUNCE_TIMEOUT_MS = 2000;

/** What came of telling the agent. */
export type Announced = "programmed" | "no-agent" | "policy-off" | "unknown-pod";

/** The agent's socket: agent.sock in the subnet file's directory. */
export function agentSocketBeside(subnetFile: string): string {
  return `${subnetFile.slice(0, subnetFile.lastIndexOf("/") + 1)}agent.sock`;
}

/**
 * Tells the agent at `socket` that pod `namespace/name` has `ip` and waits
 * for its answer; throws CniError 11 when the pod must not start yet.
 */
export function announcePod(sys: Syscalls, socket: string, namespace: string, name: string, ip: string, timeoutMs = ANNOUNCE_TIMEOUT_MS): Announced {
  let fd: number;
  try {
    fd = sys.unixConnect(socket, timeoutMs);
  } catch (err) {
    if (err instanceof IoError && (err.code === "ENOENT" || err.code === "ECONNREFUSED")) return "no-agent";
    throw notYet(`cannot connect to the weft agent at ${socket}: ${(err as Error).message}`);
  }
  let response: string;
  try {
    const body = JSON.stringify({ namespace, name, ip });
    const length = new TextEncoder().encode(body).length;
    writeAll(sys, fd, `POST /policy/pods HTTP/1.1\r\nHost: weft\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n${body}`);
    response = readAll(sys, fd, 1024);
  } catch (err) {
    const timedOut = err instanceof IoError && err.code === "EAGAIN";
    throw notYet(timedOut ? `the weft agent at ${socket} did not program pod ${namespace}/${name} (${ip}) into its network policy within ${timeoutMs} ms` : `talking to the weft agent at ${socket}: ${(err as Error).message}`);
  } finally {
    sys.close(fd);
  }
  return readAnswer(response, socket, `${namespace}/${name}`);
}

/** The agent's HTTP answer: what it means for ADD, or CniError 11. */
export function readAnswer(response: string, socket: string, pod: string): Announced {
  const status = response.startsWith("HTTP/1.1 ") ? response.slice(9, 12) : "";
  const at = response.indexOf("\r\n\r\n");
  let body: { programmed?: unknown; known?: unknown; reason?: unknown; code?: unknown } = {};
  try {
    body = JSON.parse(at < 0 ? "" : response.slice(at + 4)) as typeof body;
  } catch {
    // judged by its status below
  }
  if (status === "503" && body.code === "POLICY_OFF") return "policy-off";
  // An agent from before /policy/pods has nothing to program.
  if (status === "404") return "policy-off";
  if (status === "200" && body.programmed === true) return "programmed";
  if (status === "200" && body.known === false) return "unknown-pod";
  const why = typeof body.reason === "string" ? body.reason : `it answered ${JSON.stringify(response.slice(0, 80))}`;
  throw notYet(`the weft agent at ${socket} has not programmed pod ${pod} into its network policy: ${why}`);
}

function notYet(message: string): CniError {
  return new CniError(ERR_TRY_AGAIN_LATER, message, "the runtime retries; until the agent programs the pod, a pod a NetworkPolicy may select does not start (weft status policy, and the agent's log, say why)");
}
