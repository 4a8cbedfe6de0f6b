/**
 * A stand-in Kubernetes API server on loopback for tests of the informers:
 * it answers list and watch for Services and EndpointSlices the way the API
 * server does (a List with a resourceVersion, then a stream of JSON watch
 * events), from a table the test fills and events it pushes.
 */
import { createServer, type ServerResponse } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const SVC_PATH = "/api/v1/services";
export const EPS_PATH = "/apis/discovery.k8s.io/v1/endpointslices";

/** A stand-in API server: lists from a table, watch events pushed by the test. */
export class FakeKubeApi {
  readonly lists = new Map<string, object[]>([[SVC_PATH, []], [EPS_PATH, []]]);
  readonly watchers = new Map<string, ServerResponse[]>();
  /** Paths whose list answers 503 (an API server that is not ready). */
  readonly failing = new Set<string>();
  /** Paths whose list is held until released. */
  readonly held = new Map<string, () => void>();
  /** Every list request's query (limit, continue, ...), in order. */
  readonly listQueries: URLSearchParams[] = [];
  /** The remote port of each list request, in order (the same port: one connection). */
  readonly listPorts: number[] = [];
  /** Continue tokens answered with 410 Gone, as the API server does once their snapshot is compacted away. */
  readonly expired = new Set<string>();
  /** Continue tokens whose page answers 500 once (then they are taken out). */
  readonly failOnce = new Set<string>();
  /** Paths whose list answers a page whose items are not a list (a broken proxy in between). */
  readonly garbled = new Set<string>();
  readonly server = createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    const path = url.pathname;
    if (!this.lists.has(path)) return void res.writeHead(404).end();
    if (url.searchParams.get("watch") === "true") {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.flushHeaders();
      this.watchers.set(path, [...(this.watchers.get(path) ?? []), res]);
      return;
    }
    this.listQueries.push(url.searchParams);
    this.listPorts.push(req.socket.remotePort ?? 0);
    const answer = () => {
      if (this.failing.has(path)) return void res.writeHead(503, { "Content-Type": "application/json" }).end(JSON.stringify({ kind: "Status", message: "not ready", code: 503 }));
      const token = url.searchParams.get("continue") ?? "";
      if (this.expired.has(token)) {
        return void res.writeHead(410, { "Content-Type": "application/json" }).end(JSON.stringify({ kind: "Status", message: "The provided continue parameter is too old", reason: "Expired", code: 410 }));
      }
      if (this.failOnce.delete(token)) return void res.writeHead(500, { "Content-Type": "application/json" }).end(JSON.stringify({ kind: "Status", message: "etcd timed out", code: 500 }));
      if (this.garbled.has(path)) return void res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ kind: "List", items: "nope" }));
      // Pages as the API server cuts them: `limit` items from the offset the token names, and a token while more follow.
      const all = this.lists.get(path)!;
      const from = token === "" ? 0 : Number(token.split(":")[1]);
      const limit = Number(url.searchParams.get("limit") ?? all.length) || all.length;
      const next = from + limit < all.length ? `${path}:${from + limit}` : undefined;
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ kind: "List", apiVersion: "v1", metadata: { resourceVersion: "10", ...(next && { continue: next }) }, items: all.slice(from, from + limit) }));
    };
    if (this.held.has(path)) this.held.set(path, answer);
    else answer();
  });

  /** Listens on a free loopback port. */
  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
  }

  /** A directory of its own for the kubeconfig, removed by close(). */
  #dir: string | undefined;

  /** Writes a kubeconfig for this server (see writeLoopbackKubeconfig) to `path`, by default into a directory close() removes, and returns its path. */
  writeKubeconfig(path?: string): string {
    if (path === undefined) this.#dir ??= mkdtempSync(join(tmpdir(), "weft-fake-kube-api-"));
    return writeLoopbackKubeconfig(path ?? join(this.#dir!, "kubeconfig"), (this.server.address() as { port: number }).port);
  }

  /** Sends a watch event to every open watch of `path`. */
  push(path: string, type: "ADDED" | "MODIFIED" | "DELETED", object: object): void {
    for (const w of this.watchers.get(path) ?? []) w.write(JSON.stringify({ type, object }) + "\n");
  }

  /** Ends every open watch of `path` as the API server does when the version watched from is compacted: an ERROR event with a 410 Status. */
  expireWatches(path: string): void {
    for (const w of this.watchers.get(path) ?? []) w.end(JSON.stringify({ type: "ERROR", object: { kind: "Status", reason: "Expired", code: 410 } }) + "\n");
    this.watchers.set(path, []);
  }

  close(): Promise<void> {
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    for (const ws of this.watchers.values()) for (const w of ws) w.end();
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/**
 * Writes a kubeconfig for a server on 127.0.0.1:`port` (plain HTTP, which
 * client-node allows only with TLS verification off; bearer token "t") and
 * returns its path.
 */
export function writeLoopbackKubeconfig(path: string, port: number): string {
  writeFileSync(path, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`);
  return path;
}
