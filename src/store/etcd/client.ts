/**
 * A minimal client for etcd's v3 JSON gateway (the grpc-gateway etcd serves
 * on its client URLs: POST /v3/kv/range, /v3/kv/txn, /v3/lease/grant, …),
 * over node:http and node:https, so weft needs no gRPC library.
 *
 * Requests go to the endpoint that answered last, then to the others in
 * order. An endpoint that cannot be reached, does not answer within the
 * timeout or says it is unavailable (HTTP 503 / gRPC code 14, e.g. while it
 * has no leader) is skipped; when none answers the request fails with one
 * STORE_UNAVAILABLE error that names every endpoint and why. Any other error
 * answer is an EtcdStatusError.
 *
 * Wire details checked against etcd 3.4: keys and values are base64, int64
 * fields (revisions, lease IDs, TTLs) are JSON strings, fields equal to their
 * zero value are left out (`succeeded: false`, a PUT event's `type`), and
 * streaming calls (/v3/watch, /v3/lease/keepalive) answer with one JSON
 * object per line.
 */
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { WeftError } from "../../lib/errors.ts";
import { STORE_ERROR, STORE_UNAVAILABLE } from "../types.ts";

/** Code for store options that cannot work (bad endpoint URL, unreadable TLS file). */
export const INVALID_STORE_CONFIG = "INVALID_STORE_CONFIG";

/** Options of the etcd client; see EtcdStoreOptions for their defaults. */
export interface EtcdClientOptions {
  /** Client URLs, `http://host:port` or `https://host:port`; at least one. */
  endpoints: readonly string[];
  /** PEM file of the CA that signed the servers' certificates; the system CAs when unset. */
  caFile?: string | undefined;
  /** PEM client certificate, for an etcd run with --client-cert-auth; needs keyFile. */
  certFile?: string | undefined;
  /** PEM private key of certFile. */
  keyFile?: string | undefined;
  /** How long one endpoint may take to answer (for a stream: to start answering), in ms. */
  timeoutMs: number;
}

/** An error answer from etcd: its gRPC status code and message. */
export class EtcdStatusError extends WeftError {
  /** The gRPC status code, e.g. 5 for "requested lease not found". */
  readonly grpcCode: number;
  constructor(endpoint: string, path: string, grpcCode: number, message: string) {
    super(STORE_ERROR, `etcd at ${endpoint} rejected ${path}: ${message} (gRPC code ${grpcCode})`, {
      hint: "this is a weft or etcd bug or an incompatible etcd; etcd 3.4 or newer is required",
    });
    this.grpcCode = grpcCode;
  }
}

/** gRPC status: the server cannot serve now (no leader, shutting down). */
const UNAVAILABLE = 14;
/** gRPC status: the server gave up on the request. */
const DEADLINE_EXCEEDED = 4;

/** An open streaming response, delivered line by line. */
export interface EtcdStream {
  /** The endpoint serving the stream. */
  endpoint: string;
  /** Resolves when the stream ends: undefined when closed by us, the error otherwise. */
  ended: Promise<WeftError | undefined>;
  /** Ends the stream. */
  close(): void;
}

/** A client for one etcd cluster. */
export class EtcdClient {
  readonly #endpoints: URL[];
  readonly #timeoutMs: number;
  readonly #httpAgent = new http.Agent({ keepAlive: true });
  readonly #httpsAgent: https.Agent;
  #preferred = 0;

  constructor(options: EtcdClientOptions) {
    if (options.endpoints.length === 0) {
      throw new WeftError(INVALID_STORE_CONFIG, "no etcd endpoints given", { hint: "give at least one URL like http://127.0.0.1:2379" });
    }
    this.#endpoints = options.endpoints.map(parseEndpoint);
    this.#timeoutMs = options.timeoutMs;
    if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
      throw new WeftError(INVALID_STORE_CONFIG, "etcd TLS client certFile and keyFile must be given together");
    }
    this.#httpsAgent = new https.Agent({
      keepAlive: true,
      ca: readPem(options.caFile, "caFile"),
      cert: readPem(options.certFile, "certFile"),
      key: readPem(options.keyFile, "keyFile"),
    });
  }

  /** The endpoints as given, for messages. */
  get endpoints(): string[] {
    return this.#endpoints.map(show);
  }

  /** Sends one request and returns the parsed JSON answer. */
  async call<T>(path: string, body: unknown): Promise<T> {
    const payload = JSON.stringify(body);
    return this.#failover<T>(path, async (endpoint) => {
      const res = await this.#collect(await this.#send(endpoint, path, payload));
      const answer = parseAnswer(res.text);
      return res.status === 200 && answer !== undefined ? { value: answer as T } : { error: errorStatus(answer, res) };
    });
  }

  /**
   * Opens a streaming request on the first endpoint that answers, and calls
   * `onMessage` with each JSON object it sends (and the stream, to close it).
   */
  async stream(path: string, body: unknown, onMessage: (message: Record<string, unknown>, stream: EtcdStream) => void): Promise<EtcdStream> {
    const payload = JSON.stringify(body);
    return this.#failover<EtcdStream>(path, async (endpoint) => {
      const res = await this.#send(endpoint, path, payload);
      if (res.statusCode === 200) return { value: readLines(res, show(endpoint), onMessage) };
      const text = await this.#collect(res).then((r) => r.text, () => "");
      return { error: errorStatus(parseAnswer(text), { status: res.statusCode ?? 0, text }) };
    });
  }

  // Tries `attempt` on each endpoint, the one that answered last first.
  async #failover<T>(path: string, attempt: (endpoint: URL) => Promise<{ value: T } | { error: Status }>): Promise<T> {
    const failures: Failure[] = [];
    let tls: "server" | "client" | undefined;
    for (let i = 0; i < this.#endpoints.length; i++) {
      const index = (this.#preferred + i) % this.#endpoints.length;
      const endpoint = this.#endpoints[index]!;
      let outcome: { value: T } | { error: Status };
      try {
        outcome = await attempt(endpoint);
      } catch (err) {
        tls ??= tlsProblem(err);
        failures.push({ endpoint: show(endpoint), reason: describeNetError(err, this.#timeoutMs), cause: err });
        continue;
      }
      if ("value" in outcome) {
        this.#preferred = index;
        return outcome.value;
      }
      const { code, message, httpStatus } = outcome.error;
      if (code === UNAVAILABLE || code === DEADLINE_EXCEEDED || httpStatus === 503) {
        failures.push({ endpoint: show(endpoint), reason: message });
        continue;
      }
      throw new EtcdStatusError(show(endpoint), path, code, message);
    }
    throw unavailable(failures, tls);
  }

  /** Closes every connection, including open streams. Safe to call twice. */
  close(): void {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  // Resolves with the response once its headers arrive within the timeout.
  // A kept-alive connection that etcd closed while idle (it restarted) fails
  // with ECONNRESET before the request reached etcd: that is retried once on
  // a new connection instead of calling etcd unavailable.
  async #send(endpoint: URL, path: string, payload: string): Promise<http.IncomingMessage> {
    try {
      return await this.#sendOnce(endpoint, path, payload);
    } catch (err) {
      if (!(err as { reusedSocket?: boolean }).reusedSocket || (err as NodeJS.ErrnoException).code !== "ECONNRESET") throw err;
      return this.#sendOnce(endpoint, path, payload);
    }
  }

  #sendOnce(endpoint: URL, path: string, payload: string): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const secure = endpoint.protocol === "https:";
      const request = secure ? https.request : http.request;
      const req = request(new URL(path, endpoint), {
        method: "POST",
        agent: secure ? this.#httpsAgent : this.#httpAgent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      });
      const timer = setTimeout(() => req.destroy(new TimeoutError()), this.#timeoutMs);
      req.on("response", (res) => {
        clearTimeout(timer);
        resolve(res);
      });
      req.on("error", (err) => {
        clearTimeout(timer);
        reject(Object.assign(err, { reusedSocket: req.reusedSocket }));
      });
      req.end(payload);
    });
  }

  // Reads a whole (unary) response body, still within the timeout.
  #collect(res: http.IncomingMessage): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => res.destroy(new TimeoutError()), this.#timeoutMs);
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }
}

/** Base64 of UTF-8 text, as etcd's JSON wants keys and values. */
export function toBase64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

/** UTF-8 text of base64 from etcd; "" for undefined (etcd leaves out empty values). */
export function fromBase64(data: string | undefined): string {
  return data === undefined ? "" : Buffer.from(data, "base64").toString("utf8");
}

/** The range_end that selects every key starting with `prefix` (the prefix with its last byte + 1), as base64. */
export function prefixRangeEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, "utf8");
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = bytes.subarray(0, i + 1);
      end[i]! += 1;
      return end.toString("base64");
    }
  }
  return Buffer.from([0]).toString("base64"); // all 0xff: "every key from prefix on"
}

class TimeoutError extends Error {
  readonly code = "ETIMEDOUT_WEFT";
}

function parseEndpoint(text: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || (url.pathname !== "/" && url.pathname !== "")) {
    throw new WeftError(INVALID_STORE_CONFIG, `invalid etcd endpoint "${text}"`, { hint: "use a client URL like http://127.0.0.1:2379 or https://etcd.example:2379" });
  }
  return url;
}

function show(url: URL): string {
  return url.origin;
}

function readPem(path: string | undefined, what: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new WeftError(INVALID_STORE_CONFIG, `cannot read etcd TLS ${what} ${path}: ${reason}`, { cause: err });
  }
}

function parseAnswer(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** An error answer: its gRPC code and message, and the HTTP status it came with. */
interface Status {
  code: number;
  message: string;
  httpStatus: number;
}

// The gateway reports errors as {"error","message","code"} (unary) or
// {"error":{"grpc_code","message",…}} (streams).
function errorStatus(answer: unknown, res: { status: number; text: string }): Status {
  const a = (answer ?? {}) as Record<string, unknown>;
  const inner = typeof a["error"] === "object" && a["error"] !== null ? (a["error"] as Record<string, unknown>) : a;
  const code = Number(inner["code"] ?? inner["grpc_code"] ?? 2);
  const message = typeof inner["message"] === "string" ? inner["message"] : `HTTP ${res.status} ${res.text.slice(0, 200)}`.trim();
  return { code, message, httpStatus: res.status };
}

// Node's own messages for these are long (and one is an OpenSSL dump), so
// each known TLS failure gets a short reason of its own.
const TLS_SERVER_REASONS: Record<string, string> = {
  SELF_SIGNED_CERT_IN_CHAIN: "etcd's certificate is signed by an untrusted CA",
  DEPTH_ZERO_SELF_SIGNED_CERT: "etcd's certificate is self-signed and not trusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "etcd's certificate is signed by an untrusted CA",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "etcd's certificate is signed by an untrusted CA",
  CERT_SIGNATURE_FAILURE: "etcd's certificate has a bad signature",
  CERT_HAS_EXPIRED: "etcd's certificate has expired",
  ERR_TLS_CERT_ALTNAME_INVALID: "etcd's certificate does not name this host",
};
const TLS_CLIENT_ALERT = /ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN)$/;

// Which side of TLS failed, to point the hint at the right option.
function tlsProblem(err: unknown): "server" | "client" | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? "";
  if (Object.hasOwn(TLS_SERVER_REASONS, code)) return "server";
  if (TLS_CLIENT_ALERT.test(code)) return "client";
  return undefined;
}

/** A short one-line reason for a failed connection, e.g. "connection refused". */
function describeNetError(err: unknown, timeoutMs: number): string {
  if (err instanceof TimeoutError) return `no answer within ${timeoutMs} ms`;
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? "";
  switch (code) {
    case "ECONNREFUSED": return "connection refused";
    case "ECONNRESET": return "connection reset";
    case "EHOSTUNREACH": return "host unreachable";
    case "ENETUNREACH": return "network unreachable";
    case "ENOTFOUND": return "host not found";
  }
  if (Object.hasOwn(TLS_SERVER_REASONS, code)) return `TLS: ${TLS_SERVER_REASONS[code]} (${code})`;
  if (TLS_CLIENT_ALERT.test(code)) return "TLS: etcd refused our client certificate (none, or not signed by a CA it trusts)";
  return (e?.message ?? String(err)).split("\n")[0]!;
}

/** Why one endpoint did not serve a request. */
interface Failure {
  endpoint: string;
  reason: string;
  cause?: unknown;
}

function unavailable(failures: Failure[], tls: "server" | "client" | undefined): WeftError {
  const message = failures.length === 1
    ? `etcd at ${failures[0]!.endpoint} is unavailable: ${failures[0]!.reason}`
    : `etcd is unavailable at ${failures.map((f) => `${f.endpoint} (${f.reason})`).join(", ")}`;
  const hint = tls === "server"
    ? "set caFile to the CA that signed etcd's server certificate (and check the certificate names this host)"
    : tls === "client"
      ? "etcd wants a client certificate it trusts: set certFile and keyFile"
      : "check that etcd is running and reachable at these endpoints; weft retries";
  return new WeftError(STORE_UNAVAILABLE, message, { hint, cause: failures.find((f) => f.cause !== undefined)?.cause });
}

// Splits a streaming response into JSON lines.
function readLines(res: http.IncomingMessage, endpoint: string, onMessage: (m: Record<string, unknown>, s: EtcdStream) => void): EtcdStream {
  let closedByUs = false;
  let buffered = "";
  let resolveEnded!: (err: WeftError | undefined) => void;
  const stream: EtcdStream = {
    endpoint,
    ended: new Promise<WeftError | undefined>((resolve) => (resolveEnded = resolve)),
    close: () => {
      closedByUs = true;
      res.destroy();
    },
  };
  const finish = (why: string): void => {
    resolveEnded(closedByUs ? undefined : new WeftError(STORE_UNAVAILABLE, `etcd at ${endpoint} ended the stream: ${why}`, {
      hint: "etcd restarted or the connection broke; weft reconnects",
    }));
  };
  res.setEncoding("utf8");
  res.on("data", (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line === "" || closedByUs) continue;
      const message = parseAnswer(line);
      if (typeof message === "object" && message !== null) onMessage(message as Record<string, unknown>, stream);
    }
  });
  res.on("end", () => finish("closed by the server"));
  res.on("error", (err) => finish(describeNetError(err, 0)));
  res.on("close", () => finish("connection closed"));
  return stream;
}
