/**
 * The agent's HTTP API: what `weft status`, `weft doctor`, the lab and a
 * Prometheus scraper read. Served on a unix socket that only root can use
 * (mode 0600 from the moment it exists) and, when asked, on a loopback TCP
 * port for scrapers. Every answer is built from the source on each request.
 *
 *     GET /healthz      200 "ok"  (the process and its event loop are alive)
 *     GET /readyz       200 "ready", or 503 "not ready: lease, subnetFile"
 *     GET /status       200 AgentStatus (JSON)
 *     GET /ipam         200 IpamUsage of this node's subnet (JSON); 503 before a lease
 *     GET /metrics      200 Prometheus text format 0.0.4
 *     GET /connections  200 ConnectionStatus[] (JSON; pings every peer, ~1 s)
 *     GET /services     200 ServicesStatus (JSON): the service proxy's programmed
 *                       service ports and last sync; 404 SERVICE_PROXY_OFF without it
 *     GET /policy       200 PolicyStatus (JSON); 503 POLICY_OFF when network policy does not run
 *     GET /policy/explain?from=IP&to=IP[&protocol=TCP|UDP|SCTP][&port=N]
 *                       200 Explanation (JSON): which rule of which policy allows the
 *                       connection per direction, or that none does; 400 BAD_QUERY; 503 POLICY_OFF
 *     POST /policy/pods {"namespace","name","ip"}  (the CNI plugin at ADD)
 *                       200 PodAddedAnswer once the policy table covers the pod; 400 BAD_QUERY; 503 POLICY_OFF
 *
 * Other paths are 404 and other methods 405, each with a JSON error body
 * `{"code","message","hint"?}`; a failure while answering is 500 with the
 * error's code (the client turns these back into WeftErrors).
 */
import { lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { dirname } from "node:path";
import { WeftError } from "../lib/errors.ts";
import { IPAM_STORE_INVALID, readIpamUsage, type IpamUsage } from "./ipam-usage.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import type { ProxySyncStatus, ServicePortStatus } from "../proxy/proxy.ts";
import type { AgentStatus, ConnectionStatus, Readiness } from "./status.ts";
import type { PodAddedAnswer, PolicyStatus } from "../policy/controller.ts";
import type { ExplainQuery, Explanation } from "../policy/explain.ts";
import type { Protocol } from "../policy/types.ts";
import { tryParseIp } from "../lib/ipv4.ts";

/** What the API reads from the running agent. */
export interface AgentApiSource {
  /** The agent's current state. */
  status(): AgentStatus;
  /** Measures every peer now (see connections.ts). */
  connections(): Promise<ConnectionStatus[]>;
  /** Families of the agent's components (e.g. the service proxy) appended to /metrics. */
  componentMetrics?(): string | Promise<string>;
  /** The service proxy's state, or null when the agent runs none. */
  services?(): ServicesStatus | null;
  /** The network policy's view of this node's pods, or undefined when policy does not run. */
  policy?(): PolicyStatus | undefined;
  /** Why the network policy allows or drops a connection, or undefined when policy does not run. */
  policyExplain?(q: ExplainQuery): Explanation | undefined;
  /** The CNI plugin's report of a new pod's address; resolves once policy covers it; undefined when policy does not run. */
  policyPodAdded?(pod: { namespace: string; name: string; ip: string }): Promise<PodAddedAnswer> | undefined;
}

/** What `/services` answers: each programmed service port and the proxy's last sync. */
export interface ServicesStatus {
  /** True once Services and EndpointSlices were both listed and a sync ran. */
  synced: boolean;
  lastSync: ProxySyncStatus | null;
  ports: ServicePortStatus[];
}

/** Error code (HTTP 404 on /services): the agent runs without --service-proxy. */
export const SERVICE_PROXY_OFF = "SERVICE_PROXY_OFF";

/** A running API. */
export interface AgentApi {
  /** The loopback TCP port actually bound (the chosen one for port 0), or null without one. */
  readonly tcpPort: number | null;
  /** Stops listening and removes the socket file; later calls resolve at once. */
  close(): Promise<void>;
}

/** Error code: another live agent already answers on the socket. */
export const AGENT_RUNNING = "AGENT_RUNNING";
/** Error code: the socket path is taken by something that is not a socket. */
export const AGENT_SOCKET_PATH_TAKEN = "AGENT_SOCKET_PATH_TAKEN";
/** Error code (HTTP 503 on /policy): network policy is not running on this agent. */
export const POLICY_OFF = "POLICY_OFF";
/** Error code (HTTP 400): a query parameter or request body is not what the route takes. */
export const BAD_QUERY = "BAD_QUERY";
/** Error code (HTTP 503 on /ipam): no subnet is leased, so there is no pod address to report. */
export const NO_SUBNET = "NO_SUBNET";

interface Reply {
  status: number;
  type: string;
  body: string;
  headers?: Record<string, string>;
}

const TEXT = "text/plain; charset=utf-8";

type Route = (source: AgentApiSource, url: URL, body: string) => Promise<Reply> | Reply;

const POLICY_OFF_HINT = "it runs where the agent has a Kubernetes API (the kubernetes store or --kubeconfig) and --no-network-policy is not given";

const ROUTES: Record<string, Route> = {
  "/healthz": () => text(200, "ok\n"),
  "/readyz": (source) => {
    const missing = missingReadiness(source.status().readiness);
    return missing.length === 0 ? text(200, "ready\n") : text(503, `not ready: ${missing.join(", ")}\n`);
  },
  "/status": (source) => json(200, source.status()),
  "/ipam": (source) => {
    const status = source.status();
    if (status.subnet === null) {
      return errorReply(503, NO_SUBNET, `${status.node} holds no subnet lease yet, so it has no pod addresses`, "wait until /readyz answers ready");
    }
    return json(200, readIpamUsage(status.paths.ipamDir, status.subnet));
  },
  "/metrics": async (source) => {
    const status = source.status();
    return { status: 200, type: METRICS_CONTENT_TYPE, body: renderMetrics(status, ipamForMetrics(status)) + ((await source.componentMetrics?.()) ?? "") };
  },
  "/policy": (source) => {
    const policy = source.policy?.();
    if (!policy) return errorReply(503, POLICY_OFF, `network policy does not run on ${source.status().node}`, POLICY_OFF_HINT);
    return json(200, policy);
  },
  "/policy/explain": (source, url) => {
    const q = explainQuery(url.searchParams);
    if (typeof q === "string") return errorReply(400, BAD_QUERY, `/policy/explain: ${q}`, "ask /policy/explain?from=IP&to=IP, optionally with &protocol=TCP|UDP|SCTP and &port=1..65535");
    const answer = source.policyExplain?.(q);
    if (!answer) return errorReply(503, POLICY_OFF, `network policy does not run on ${source.status().node}`, POLICY_OFF_HINT);
    return json(200, answer);
  },
  "/connections": async (source) => json(200, await source.connections()),
  "/services": (source) => {
    const services = source.services?.() ?? null;
    if (services === null) return errorReply(404, SERVICE_PROXY_OFF, `${source.status().node} runs no service proxy`, "kube-proxy (or another proxy) serves this cluster's Services; set \"serviceProxy\": true in weft-config to make weft do it");
    return json(200, services);
  },
};

/** Routes that take POST, with a JSON body. */
const POST_ROUTES: Record<string, Route> = {
  "/policy/pods": async (source, _url, body) => {
    const pod = podAddress(body);
    if (typeof pod === "string") return errorReply(400, BAD_QUERY, `/policy/pods: ${pod}`, 'send {"namespace": NS, "name": POD, "ip": IPV4}');
    const answer = source.policyPodAdded?.(pod);
    if (!answer) return errorReply(503, POLICY_OFF, `network policy does not run on ${source.status().node}`, POLICY_OFF_HINT);
    return json(200, await answer);
  },
};

/** The largest request body read (a pod's namespace, name and address are far smaller). */
const MAX_BODY = 4096;

const PROTOCOLS: readonly Protocol[] = ["TCP", "UDP", "SCTP"];

/** /policy/explain's query, or what is wrong with it. */
function explainQuery(p: URLSearchParams): ExplainQuery | string {
  const src = p.get("from") ?? "";
  const dst = p.get("to") ?? "";
  if (tryParseIp(src) === undefined) return `from=${JSON.stringify(src)} is not an IPv4 address`;
  if (tryParseIp(dst) === undefined) return `to=${JSON.stringify(dst)} is not an IPv4 address`;
  const q: ExplainQuery = { src, dst };
  const protocol = p.get("protocol");
  if (protocol !== null) {
    const upper = protocol.toUpperCase() as Protocol;
    if (!PROTOCOLS.includes(upper)) return `protocol=${JSON.stringify(protocol)} is not TCP, UDP or SCTP`;
    q.protocol = upper;
  }
  const port = p.get("port");
  if (port !== null) {
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return `port=${JSON.stringify(port)} is not a port number (1 to 65535)`;
    q.port = Number(port);
    q.protocol ??= "TCP";
  }
  return q;
}

/** /policy/pods' body, or what is wrong with it. */
function podAddress(body: string): { namespace: string; name: string; ip: string } | string {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return "the body is not JSON";
  }
  const o = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  for (const k of ["namespace", "name", "ip"]) if (typeof o[k] !== "string" || o[k] === "") return `the body has no string "${k}"`;
  if (tryParseIp(o.ip as string) === undefined) return `ip ${JSON.stringify(o.ip)} is not an IPv4 address`;
  return { namespace: o.namespace as string, name: o.name as string, ip: o.ip as string };
}

/**
 * Starts serving `source` on `socketPath` (its directory is created) and,
 * with `tcpPort`, on 127.0.0.1:tcpPort (0 picks a free port). A socket file
 * left by a dead agent is replaced; a live one is AGENT_RUNNING.
 */
export async function startApi(source: AgentApiSource, options: { socketPath: string; tcpPort?: number }): Promise<AgentApi> {
  const { socketPath } = options;
  mkdirSync(dirname(socketPath), { recursive: true });
  await removeStaleSocket(socketPath);
  const unix = createServer((req, res) => void answer(source, req, res));
  await listenPrivate(unix, socketPath);
  const servers: Server[] = [unix];
  let tcpPort: number | null = null;
  if (options.tcpPort !== undefined) {
    const tcp = createServer((req, res) => void answer(source, req, res));
    try {
      tcpPort = await listenLoopback(tcp, options.tcpPort);
    } catch (err) {
      await stop(unix);
      throw err;
    }
    servers.push(tcp);
  }
  let closing: Promise<void> | undefined;
  return {
    tcpPort,
    close: () => (closing ??= Promise.all(servers.map(stop)).then(() => undefined)),
  };
}

/** The readiness items that do not hold, in the order AgentStatus lists them. */
export function missingReadiness(readiness: Readiness): string[] {
  return Object.entries(readiness)
    .filter(([, ok]) => !ok)
    .map(([item]) => item);
}

async function answer(source: AgentApiSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://agent");
  const path = url.pathname;
  const method = POST_ROUTES[path] ? "POST" : "GET";
  const route = ROUTES[path] ?? POST_ROUTES[path];
  let reply: Reply;
  if (!route) {
    reply = errorReply(404, "NOT_FOUND", `the agent has no ${path}`, `it serves ${Object.keys(ROUTES).join(", ")}, and POST ${Object.keys(POST_ROUTES).join(", ")}`);
  } else if (req.method !== method) {
    reply = { ...errorReply(405, "METHOD_NOT_ALLOWED", `${path} answers ${method} only, not ${req.method}`), headers: { allow: method } };
  } else {
    try {
      const body = method === "POST" ? await readBody(req) : "";
      reply = body === null ? errorReply(413, BAD_QUERY, `${path}: the request body is larger than ${MAX_BODY} bytes`) : await route(source, url, body);
    } catch (err) {
      reply =
        err instanceof WeftError
          ? errorReply(500, err.code, err.message, err.hint)
          : errorReply(500, "AGENT_INTERNAL", `the agent failed to answer ${path}: ${(err as Error).message ?? String(err)}`);
    }
  }
  // A length, not chunks: the CNI plugin reads the answer with plain read(2)s (cni/announce.ts).
  res.writeHead(reply.status, { "content-type": reply.type, "content-length": Buffer.byteLength(reply.body), ...reply.headers });
  res.end(reply.body);
}

/** The request's body as text, or null when it exceeds MAX_BODY. */
function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on("end", () => resolve(size > MAX_BODY ? null : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** The node subnet's usage for /metrics; a damaged store leaves the IPAM series out (/ipam reports why). */
function ipamForMetrics(status: AgentStatus): IpamUsage | null {
  if (status.subnet === null) return null;
  try {
    return readIpamUsage(status.paths.ipamDir, status.subnet);
  } catch (err) {
    if (err instanceof WeftError && err.code === IPAM_STORE_INVALID) return null;
    throw err;
  }
}

function text(status: number, body: string): Reply {
  return { status, type: TEXT, body };
}

function json(status: number, value: unknown): Reply {
  return { status, type: "application/json", body: JSON.stringify(value) + "\n" };
}

function errorReply(status: number, code: string, message: string, hint?: string): Reply {
  return json(status, hint === undefined ? { code, message } : { code, message, hint });
}

/** Removes a socket file nobody answers on; refuses when someone does or the path is not a socket. */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    if (!lstatSync(path).isSocket()) {
      throw new WeftError(AGENT_SOCKET_PATH_TAKEN, `cannot serve the agent API at ${path}: it exists and is not a socket`, {
        hint: "move the file away, or give the agent another --run-dir",
      });
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (await answers(path)) {
    throw new WeftError(AGENT_RUNNING, `another weft agent is already serving ${path}`, {
      hint: "stop it first, or give this agent another --run-dir",
    });
  }
  unlinkSync(path);
}

/** True when a process accepts connections on unix socket `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNREFUSED" || err.code === "ENOENT") resolve(false);
      else reject(err);
    });
  });
}

/**
 * Listens on `path` with umask 0177, so the socket is created 0600 and is
 * never wider, not even for a moment. bind(2) runs synchronously inside
 * listen(), so the umask is back before any other JavaScript runs; a file
 * that a worker thread creates in that instant can only come out narrower.
 */
function listenPrivate(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE" ? new WeftError(AGENT_RUNNING, `another weft agent took ${path} while this one was starting`, { cause: err }) : err);
    server.once("error", failed);
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off("error", failed);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
}

/** Listens on 127.0.0.1:port; resolves with the bound port. */
function listenLoopback(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port }, () => {
      server.off("error", reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

/** Stops accepting, lets requests in flight finish, drops idle keep-alive connections. */
function stop(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
