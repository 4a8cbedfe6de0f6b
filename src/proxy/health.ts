/**
 * healthCheckNodePort servers: for each LoadBalancer Service with
 * externalTrafficPolicy Local, an HTTP server on its healthCheckNodePort
 * that answers 200 while this node has a local endpoint for it and 503
 * otherwise, so a load balancer sends traffic only to nodes that keep the
 * client's source and can serve it. The body says how many local endpoints
 * there are. Servers listen on every address of the proxy's namespace (the
 * node's).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describeError } from "../lib/errors.ts";

/** What one health check port reports. */
export interface HealthTarget {
  /** The Service, `namespace/name`. */
  service: string;
  localEndpoints: number;
}

interface Entry {
  server: Server;
  target: HealthTarget;
}

export class HealthCheckServers {
  readonly #servers = new Map<number, Entry>();
  readonly #host: string | undefined;
  readonly #log: (line: string) => void;

  /** `host`: the address to listen on (default: all). */
  constructor(o: { log: (line: string) => void; host?: string }) {
    this.#log = o.log;
    this.#host = o.host;
  }

  /** Opens, updates and closes servers so that exactly `wanted` (by port) are served. A port that cannot be opened is logged and tried again at the next sync. */
  async sync(wanted: ReadonlyMap<number, HealthTarget>): Promise<void> {
    for (const [port, e] of this.#servers) {
      if (!wanted.has(port)) {
        this.#servers.delete(port);
        await close(e.server);
      }
    }
    for (const [port, target] of wanted) {
      const e = this.#servers.get(port);
      if (e) {
        e.target = target;
        continue;
      }
      const entry: Entry = { server: createServer((_req, res) => respond(res, entry.target)), target };
      try {
        await listen(entry.server, port, this.#host);
        this.#servers.set(port, entry);
      } catch (err) {
        this.#log(`health check port ${port} of service ${target.service} cannot be opened: ${describeError(err)}; retrying at the next sync`);
      }
    }
  }

  /** Ports served now. */
  ports(): number[] {
    return [...this.#servers.keys()];
  }

  /** Closes every server; idempotent. */
  async close(): Promise<void> {
    const all = [...this.#servers.values()];
    this.#servers.clear();
    await Promise.all(all.map((e) => close(e.server)));
  }
}

function respond(res: import("node:http").ServerResponse, t: HealthTarget): void {
  const [namespace, name] = t.service.split("/");
  const body = JSON.stringify({ service: { namespace, name }, localEndpoints: t.localEndpoints, serviceProxyHealthy: true });
  res.writeHead(t.localEndpoints > 0 ? 200 : 503, { "Content-Type": "application/json", "X-Content-Type-Options": "nosniff" });
  res.end(body + "\n");
}

function listen(server: Server, port: number, host: string | undefined): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host }, () => {
      server.off("error", reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
