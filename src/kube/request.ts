/**
 * Plain JSON requests to the API server, for the calls a node makes for
 * every pod (a kubelet's status patch, token request, events and ConfigMap
 * reads): undici's request() on the kubeconfig's pooled connection
 * (client.ts, PooledKubeConfig) with the kubeconfig's credentials, asked
 * for afresh each time as the library does (a service-account token file
 * may have been rotated), and the answer parsed once.
 *
 * Why not the library's generated clients: each of their calls goes through
 * fetch and web streams and (de)serializes every field through the typed
 * models, about twice the CPU of this path (a pod status patch, measured on
 * the lab: 1.2 against 0.58 ms of the caller's CPU). A lab kubelet starting
 * ten pods at once makes some forty such calls on a busy machine.
 *
 * Errors are the library's ApiException (the HTTP status, and the API
 * server's Status as its text), so apiStatus and apiMessage read them as
 * they read the library's.
 */
import { ApiException, type KubeConfig } from "@kubernetes/client-node";
import { request, type Dispatcher } from "undici";
import { WeftError } from "../lib/errors.ts";

/** The content type of a request body: JSON (the default), or a JSON merge patch. */
const JSON_BODY = "application/json";
export const MERGE_PATCH_BODY = "application/merge-patch+json";

/** How long a request may wait for its answer's headers, and then between parts of its body (undici's own default is 300 s for each). */
const REQUEST_TIMEOUT_MS = 30_000;

/** The credentials and connection of one request, as the kubeconfig gives them to the library's requests. */
export interface Connection {
  headers: Record<string, string>;
  dispatcher: Dispatcher | undefined;
}

/**
 * The headers (a bearer token, as the kubeconfig or the service-account
 * token file has it now) and the pooled dispatcher (client certificates,
 * CA, a proxy) the library would use for its next request.
 */
export async function connection(config: KubeConfig): Promise<Connection> {
  const c: Connection = { headers: {}, dispatcher: undefined };
  // The library's RequestContext as far as applySecurityAuthentication uses it.
  const context = {
    setHeaderParam: (key: string, value: string) => void (c.headers[key] = value),
    getDispatcher: () => c.dispatcher,
    setDispatcher: (d: Dispatcher) => void (c.dispatcher = d),
  };
  await config.applySecurityAuthentication(context as unknown as Parameters<KubeConfig["applySecurityAuthentication"]>[0]);
  return c;
}

/**
 * `method` on `path` (from /api or /apis) with `body` as JSON of
 * `contentType`; resolves with the answer's JSON (undefined for an empty
 * one), throws ApiException for an HTTP error.
 */
export async function kubeRequest<T = unknown>(config: KubeConfig, method: Dispatcher.HttpMethod, path: string, body?: unknown, contentType = JSON_BODY): Promise<T> {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new WeftError("KUBECONFIG_INVALID", `cannot ${method} ${path}: the kubeconfig names no current cluster`, { hint: "check its current-context" });
  const { headers, dispatcher } = await connection(config);
  const r = await request(cluster.server.replace(/\/+$/, "") + path, {
    method,
    ...(dispatcher && { dispatcher }),
    headers: { ...headers, accept: "application/json", ...(body !== undefined && { "content-type": contentType }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
  });
  const text = await r.body.text();
  if (r.statusCode >= 300) {
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(", ") : v;
    throw new ApiException<string>(r.statusCode, `HTTP ${r.statusCode} from ${method} ${path}`, text, flat);
  }
  if (text === "") return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${method} ${path}: the answer (HTTP ${r.statusCode}) is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** A path segment, escaped. */
export function seg(s: string): string {
  return encodeURIComponent(s);
}
