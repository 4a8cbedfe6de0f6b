/**
 * `weft dns` at work: DNS over UDP and TCP on one address and port, and
 * HTTP for operations on `httpPort`:
 *
 *     GET /health   200 "OK" while the process serves (a liveness probe)
 *     GET /ready    200 "OK" once the source has synced, else 503 (a readiness probe:
 *                   a replica that cannot answer for the cluster gets no traffic)
 *     GET /metrics  Prometheus text (metrics.ts)
 *
 * UDP answers fit the client's EDNS0 buffer size (512 bytes without EDNS0)
 * or carry the TC bit; TCP carries any number of length-prefixed queries
 * per connection, answered as they resolve, and closes after 10 s idle.
 * The zone is rebuilt from the source after a change, all changes since
 * the last rebuild at once, and at most every max(50 ms, twice the last
 * rebuild's time) capped at 500 ms: a burst of EndpointSlice updates costs
 * a few rebuilds, rebuilding never takes more than a third of the core, and
 * a change is answered well within a second (1,000 Services rebuild in
 * ~8 ms, 10,000 in ~120 ms).
 */
import { createSocket, type Socket } from "node:dgram";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { isIP, createServer as createTcpServer, type Server as TcpServer, type Socket as TcpSocket } from "node:net";
import { performance } from "node:perf_hooks";
import { WeftError } from "../lib/errors.ts";
import { METRICS_CONTENT_TYPE } from "../metrics/exposition.ts";
import type { DnsConfig } from "./config.ts";
import { Forwarder } from "./forward.ts";
import { DnsHandler, type Handled } from "./handler.ts";
import { DnsMetrics } from "./metrics.ts";
import type { DnsSource } from "./source.ts";

export const DNS_LISTEN_FAILED = "DNS_LISTEN_FAILED";

/** TCP connections idle this long are closed (RFC 7766 suggests seconds, not minutes). */
const TCP_IDLE_MS = 10_000;

export interface DnsServerOptions {
  /** Per-try upstream timeout in ms. Default 2000. */
  upstreamTimeoutMs?: number;
  /** How long a forwarded question may take in all before it is SERVFAIL, in ms. Default forward.ts's DEADLINE_MS (4000). */
  forwardDeadlineMs?: number;
  /** Where log lines go. Default: stderr with a timestamp. */
  log?: (line: string) => void;
}

export class DnsServer {
  readonly config: DnsConfig;
  readonly metrics = new DnsMetrics();
  readonly handler: DnsHandler;
  readonly #source: DnsSource;
  readonly #forwarder: Forwarder;
  readonly #log: (line: string) => void;
  #udp: Socket | null = null;
  #tcp: TcpServer | null = null;
  #http: HttpServer | null = null;
  readonly #conns = new Set<TcpSocket>();
  #unsubscribe: () => void = () => {};
  #rebuildTimer: NodeJS.Timeout | null = null;
  #lastRebuildEnd = 0;
  #rebuildGapMs = 50;
  #closing: Promise<void> | null = null;

  constructor(config: DnsConfig, source: DnsSource, options: DnsServerOptions = {}) {
    this.config = config;
    this.#source = source;
    this.#log = options.log ?? ((line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`));
    this.#forwarder = new Forwarder(config.upstreams, {
      timeoutMs: options.upstreamTimeoutMs,
      deadlineMs: options.forwardDeadlineMs,
      onError: (u, reason) => this.metrics.upstreamError(`${u.host}:${u.port}`, reason),
    });
    this.handler = new DnsHandler(config, source, this.#forwarder, this.metrics);
  }

  /** The DNS port bound (the chosen one when config.port is 0). */
  get port(): number {
    const a = this.#udp?.address();
    return a ? a.port : 0;
  }

  /** The HTTP port bound. */
  get httpPort(): number {
    const a = this.#http?.address();
    return a && typeof a === "object" ? a.port : 0;
  }

  /** Binds UDP, TCP and HTTP; a port already taken is DNS_LISTEN_FAILED. */
  async start(): Promise<void> {
    this.#unsubscribe = this.#source.onChange(() => this.#queueRebuild());
    this.handler.rebuild();
    const family = isIP(this.config.listen) === 6 ? "udp6" : "udp4";
    try {
      // UDP and TCP share one port. With port 0 the kernel picks UDP's, and TCP may find that
      // number taken (another socket's); then both try again with a new one.
      for (let attempt = 1; ; attempt++) {
        this.#udp = await bindUdp(family, this.config.listen, this.config.port);
        try {
          this.#tcp = await listen(createTcpServer((c) => this.#onTcp(c)), this.config.listen, this.port);
          break;
        } catch (err) {
          if (this.config.port !== 0 || attempt === 10 || (err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
          const udp = this.#udp;
          this.#udp = null;
          await new Promise<void>((r) => udp.close(() => r()));
        }
      }
      this.#udp.on("message", (msg, rinfo) => this.#onUdp(msg, rinfo.address, rinfo.port));
      this.#http = await listen(createHttpServer((req, res) => {
        const path = (req.url ?? "/").split("?")[0];
        if (req.method !== "GET" && req.method !== "HEAD") {
          res.writeHead(405, { "content-type": "text/plain" }).end("method not allowed\n");
        } else if (path === "/health") {
          res.writeHead(200, { "content-type": "text/plain" }).end("OK\n");
        } else if (path === "/ready") {
          const ready = this.handler.synced;
          res.writeHead(ready ? 200 : 503, { "content-type": "text/plain" }).end(ready ? "OK\n" : "not ready: the cluster objects are not listed yet\n");
        } else if (path === "/metrics") {
          const body = this.metrics.render({ synced: this.handler.synced, cacheEntries: this.handler.cache.entries, zoneNames: this.handler.zone.records.size });
          res.writeHead(200, { "content-type": METRICS_CONTENT_TYPE }).end(body);
        } else {
          res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /health, /ready or /metrics\n");
        }
      }), this.config.listen, this.config.httpPort);
    } catch (err) {
      await this.close();
      throw new WeftError(DNS_LISTEN_FAILED, `weft dns cannot listen on ${this.config.listen}: ${(err as Error).message}`, {
        hint: "another DNS server may hold the port; choose port/httpPort in the config, or stop it",
        cause: err,
      });
    }
    this.#log(`weft dns: zone ${this.config.zone} on ${this.config.listen}:${this.port} (udp, tcp), http :${this.httpPort}, upstreams ${this.config.upstreams.map((u) => `${u.host}:${u.port}`).join(", ") || "none (names outside the cluster answer SERVFAIL)"}`);
  }

  #queueRebuild(): void {
    if (this.#closing !== null) return;
    // The first zone of a synced source is built at once: until then the cluster zone is SERVFAIL.
    if (!this.handler.synced && this.#source.synced()) {
      if (this.#rebuildTimer !== null) clearTimeout(this.#rebuildTimer);
      this.#rebuildTimer = null;
      return this.#rebuild();
    }
    if (this.#rebuildTimer !== null) return;
    const wait = Math.max(0, this.#lastRebuildEnd + this.#rebuildGapMs - Date.now());
    this.#rebuildTimer = setTimeout(() => {
      this.#rebuildTimer = null;
      this.#rebuild();
    }, wait);
  }

  #rebuild(): void {
    const t0 = performance.now();
    this.handler.rebuild();
    const seconds = (performance.now() - t0) / 1000;
    this.metrics.rebuilt(seconds);
    this.#lastRebuildEnd = Date.now();
    this.#rebuildGapMs = Math.min(500, Math.max(50, 2000 * seconds));
  }

  #onUdp(msg: Buffer, address: string, port: number): void {
    const started = performance.now();
    const r = this.handler.handle(msg, false);
    if (r === null) return;
    if (r instanceof Promise) {
      r.then((h) => h && this.#sendUdp(h, address, port, started), (err) => this.#log(`dns: ${(err as Error).message}`));
    } else {
      this.#sendUdp(r, address, port, started);
    }
  }

  #sendUdp(h: Handled, address: string, port: number, started: number): void {
    // Questions still resolving when close() began get no answer: the socket is closing.
    if (this.#closing !== null) return;
    this.#udp?.send(h.bytes, port, address);
    this.metrics.request("udp", h.type, h.rcode, (performance.now() - started) / 1000);
  }

  #onTcp(c: TcpSocket): void {
    this.#conns.add(c);
    c.setTimeout(TCP_IDLE_MS, () => c.destroy());
    c.on("close", () => this.#conns.delete(c));
    c.on("error", () => c.destroy());
    let pending = Buffer.alloc(0);
    c.on("data", (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        const started = performance.now();
        const send = (h: Handled | null) => {
          if (h === null) return c.destroy();
          if (c.destroyed) return;
          const frame = Buffer.allocUnsafe(2 + h.bytes.length);
          frame.writeUInt16BE(h.bytes.length, 0);
          h.bytes.copy(frame, 2);
          c.write(frame);
          this.metrics.request("tcp", h.type, h.rcode, (performance.now() - started) / 1000);
        };
        const r = this.handler.handle(msg, true);
        if (r instanceof Promise) r.then(send, (err) => (this.#log(`dns: ${(err as Error).message}`), c.destroy()));
        else send(r);
      }
    });
  }

  /** Stops serving and watching; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#unsubscribe();
      if (this.#rebuildTimer !== null) clearTimeout(this.#rebuildTimer);
      this.#forwarder.close();
      for (const c of this.#conns) c.destroy();
      await Promise.all([
        new Promise<void>((r) => (this.#udp ? this.#udp.close(() => r()) : r())),
        new Promise<void>((r) => (this.#tcp ? this.#tcp.close(() => r()) : r())),
        new Promise<void>((r) => {
          if (!this.#http) return r();
          this.#http.closeAllConnections();
          this.#http.close(() => r());
        }),
      ]);
    })();
    return this.#closing;
  }
}

function bindUdp(family: "udp4" | "udp6", address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // Replies go to the literal address a query came from: a synchronous
    // lookup spares each send dns.lookup's deferral to the next tick.
    const s = createSocket({ type: family, recvBufferSize: 4 << 20, lookup: (address, _family, cb) => (cb as (e: null, a: string, f: number) => void)(null, address, family === "udp6" ? 6 : 4) });
    s.once("error", reject);
    s.bind(port, address, () => {
      s.off("error", reject);
      s.on("error", () => {});
      resolve(s);
    });
  });
}

function listen<S extends TcpServer | HttpServer>(server: S, address: string, port: number): Promise<S> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
