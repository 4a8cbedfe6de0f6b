/**
 * Talks to a running agent's API over its unix socket (see api.ts): the
 * client side of `weft status`. JSON answers come back parsed, text answers
 * (`/metrics`, `/readyz`, `/healthz`) as text whatever their HTTP status;
 * an agent's JSON error is thrown as a WeftError with the agent's code.
 */
import { request } from "node:http";
import { WeftError } from "../lib/errors.ts";

/** Error code: nothing answers on the socket. */
export const AGENT_UNREACHABLE = "AGENT_UNREACHABLE";
/** Error code: the agent accepted the request but did not answer in time. */
export const AGENT_TIMEOUT = "AGENT_TIMEOUT";

/** How long a request may take; `/connections` pings for about 1 s. */
const TIMEOUT_MS = 5000;

/**
 * GETs `path` from the agent at `socketPath`. The caller names the route's
 * answer type `T` (AgentStatus for /status, string for /metrics, …).
 */
export function fetchAgent<T = unknown>(socketPath: string, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: "GET", timeout: TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        if (!(res.headers["content-type"] ?? "").startsWith("application/json")) return resolve(body as T);
        try {
          const value = JSON.parse(body) as unknown;
          if ((res.statusCode ?? 500) >= 400) return reject(agentError(socketPath, path, value));
          resolve(value as T);
        } catch (err) {
          reject(new WeftError("AGENT_BAD_ANSWER", `the weft agent at ${socketPath} sent invalid JSON for ${path}: ${(err as Error).message}`));
        }
      });
    });
    req.on("timeout", () => {
      req.destroy(
        new WeftError(AGENT_TIMEOUT, `the weft agent at ${socketPath} did not answer ${path} within ${TIMEOUT_MS / 1000} s`, {
          hint: "it may be stuck; its log says more",
        }),
      );
    });
    req.on("error", (err: NodeJS.ErrnoException) => reject(err instanceof WeftError ? err : unreachable(socketPath, err)));
    req.end();
  });
}

function unreachable(socketPath: string, err: NodeJS.ErrnoException): WeftError {
  const hint =
    err.code === "EACCES"
      ? "the socket is for root only; run this as root"
      : 'is it running? start it with "weft agent", or point at it with --run-dir/--socket';
  return new WeftError(AGENT_UNREACHABLE, `cannot reach the weft agent at ${socketPath} (${err.syscall ?? "connect"} ${err.code ?? err.message})`, { hint, cause: err });
}

/** The agent's `{code, message, hint?}` error body as a WeftError. */
function agentError(socketPath: string, path: string, body: unknown): WeftError {
  const e = (typeof body === "object" && body !== null ? body : {}) as { code?: unknown; message?: unknown; hint?: unknown };
  const code = typeof e.code === "string" ? e.code : "AGENT_ERROR";
  const message = typeof e.message === "string" ? e.message : `the weft agent at ${socketPath} failed to answer ${path}`;
  return new WeftError(code, message, typeof e.hint === "string" ? { hint: e.hint } : {});
}
