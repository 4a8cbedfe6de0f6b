/**
 * A stand-in Kubernetes API server on loopback for tests of the informers:
 * it answers list and watch for Services and EndpointSlices the way the API
 * server does (a List with a resourceVersion, then a stream of JSON watch
 * events), from a table the test fills and events it pushes.
 */
import { createServer, type ServerResponse } from "node:http";
import { writeFileSync } from "node:fs";

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
    const answer = () => {
      if (this.failing.has(path)) return void res.writeHead(503, { "Content-Type": "application/json" }).end(JSON.stringify({ kind: "Status", message: "not ready", code: 503 }));
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ kind: "List", apiVersion: "v1", metadata: { resourceVersion: "10" }, items: this.lists.get(path) }));
    };
    if (this.held.has(path)) this.held.set(path, answer);
    else answer();
  });

  /** Listens on a free loopback port. */
  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
  }

  /** Writes a kubeconfig for this server (plain HTTP, which client-node allows only with TLS verification off) and returns its path. */
  writeKubeconfig(path: string): string {
    const port = (this.server.address() as { port: number }).port;
    writeFileSync(path, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`);
    return path;
  }

  /** Sends a watch event to every open watch of `path`. */
  push(path: string, type: "ADDED" | "MODIFIED" | "DELETED", object: object): void {
    for (const w of this.watchers.get(path) ?? []) w.write(JSON.stringify({ type, object }) + "\n");
  }

  close(): Promise<void> {
    for (const ws of this.watchers.values()) for (const w of ws) w.end();
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}
