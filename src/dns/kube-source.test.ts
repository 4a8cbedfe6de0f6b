/**
 * The Kubernetes-backed source with the real @kubernetes/client-node,
 * against a small API server on loopback that serves lists and watch
 * streams of Services, EndpointSlices and Namespaces as the real one does
 * (the lab's real API server is exercised by the lab tests).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { until } from "../../test/support/until.ts";
import { parseDnsConfig } from "./config.ts";
import { startKubeSource } from "./kube-source.ts";
import { DnsServer } from "./server.ts";
import type { DnsSource } from "./source.ts";
import { ask, sections } from "./testing.ts";

const KINDS: Record<string, { kind: string; apiVersion: string }> = {
  "/api/v1/services": { kind: "ServiceList", apiVersion: "v1" },
  "/apis/discovery.k8s.io/v1/endpointslices": { kind: "EndpointSliceList", apiVersion: "discovery.k8s.io/v1" },
  "/api/v1/namespaces": { kind: "NamespaceList", apiVersion: "v1" },
};

const objects: Record<string, object[]> = {
  "/api/v1/services": [
    {
      metadata: { name: "kube-dns", namespace: "kube-system", resourceVersion: "1" },
      spec: { type: "ClusterIP", clusterIP: "10.96.0.10", clusterIPs: ["10.96.0.10"], ports: [{ name: "dns", port: 53, protocol: "UDP" }, { name: "dns-tcp", port: 53, protocol: "TCP" }] },
    },
    { metadata: { name: "db", namespace: "default", resourceVersion: "1" }, spec: { clusterIP: "None", clusterIPs: ["None"], ports: [{ name: "pg", port: 5432 }] } },
  ],
  "/apis/discovery.k8s.io/v1/endpointslices": [
    {
      metadata: { name: "db-x1", namespace: "default", labels: { "kubernetes.io/service-name": "db" }, resourceVersion: "1" },
      addressType: "IPv4",
      endpoints: [{ addresses: ["10.244.1.5"], hostname: "db-0", conditions: { ready: true } }, { addresses: ["10.244.1.6"], conditions: { ready: false } }],
      ports: [{ name: "pg", port: 5432, protocol: "TCP" }],
    },
  ],
  "/api/v1/namespaces": [{ metadata: { name: "default", resourceVersion: "1" } }, { metadata: { name: "kube-system", resourceVersion: "1" } }],
};

const watchers = new Map<string, ServerResponse[]>();
let api: Server;
let dir: string;
let source: DnsSource;
let server: DnsServer;

function send(path: string, type: "ADDED" | "MODIFIED" | "DELETED", object: object): void {
  for (const w of watchers.get(path) ?? []) w.write(JSON.stringify({ type, object: { ...KINDS[path]!, ...object, kind: KINDS[path]!.kind.replace(/List$/, "") } }) + "\n");
}

before(async () => {
  api = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const kind = KINDS[url.pathname];
    if (!kind) return res.writeHead(404).end();
    if (url.searchParams.get("watch") === "true") {
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders();
      watchers.set(url.pathname, [...(watchers.get(url.pathname) ?? []), res]);
      req.on("close", () => watchers.set(url.pathname, (watchers.get(url.pathname) ?? []).filter((w) => w !== res)));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ...kind, metadata: { resourceVersion: "1" }, items: objects[url.pathname] }));
  });
  await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
  const port = (api.address() as { port: number }).port;
  dir = mkdtempSync(join(tmpdir(), "weft-dns-kube-"));
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, [
    "apiVersion: v1", "kind: Config", "current-context: t",
    "clusters: [{name: t, cluster: {server: 'http://127.0.0.1:" + port + "', insecure-skip-tls-verify: true}}]",
    "users: [{name: t, user: {token: x}}]",
    "contexts: [{name: t, context: {cluster: t, user: t}}]",
  ].join("\n"));
  source = await startKubeSource({ kubeconfig, pods: false, log: () => {} });
  server = new DnsServer(parseDnsConfig("port: 0\nhttpPort: 0\nlisten: 127.0.0.1\nupstreams: []", "t"), source, { log: () => {} });
  await server.start();
});

after(async () => {
  await server?.close();
  await source?.close();
  for (const ws of watchers.values()) for (const w of ws) w.destroy();
  api?.closeAllConnections();
  await new Promise<void>((r) => (api ? api.close(() => r()) : r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("the informers list Services, EndpointSlices and Namespaces, then the zone answers from them", async () => {
  await until("the source to sync", () => source.synced(), 5000);
  const a = await until("kube-dns to resolve", async () => {
    const r = await ask(server.port, "kube-dns.kube-system.svc.cluster.local", "A");
    return r.rcode === "NOERROR" ? r : undefined;
  }, 5000);
  assert.deepEqual(sections(a.packet).answer, ["kube-dns.kube-system.svc.cluster.local 5 A 10.96.0.10"]);
  const srv = await ask(server.port, "_pg._tcp.db.default.svc.cluster.local", "SRV");
  assert.deepEqual(sections(srv.packet).answer, ["_pg._tcp.db.default.svc.cluster.local 5 SRV 0 100 5432 db-0.db.default.svc.cluster.local"]);
  assert.equal((await ask(server.port, "x.nowhere.svc.cluster.local", "A")).rcode, "NXDOMAIN");
});

test("watch events: a new Service resolves within 1 s, a deleted one is NXDOMAIN", async () => {
  await until("the watches to be open", () => [...watchers.values()].every((w) => w.length > 0) && watchers.size === 3, 5000);
  const web = { metadata: { name: "web", namespace: "default", resourceVersion: "2" }, spec: { clusterIP: "10.96.0.20", clusterIPs: ["10.96.0.20"], ports: [{ port: 80 }] } };
  const t0 = Date.now();
  send("/api/v1/services", "ADDED", web);
  await until("web to resolve", async () => (await ask(server.port, "web.default.svc.cluster.local", "A")).rcode === "NOERROR", 1000, 10);
  assert.ok(Date.now() - t0 < 1000);
  send("/api/v1/services", "DELETED", { ...web, metadata: { ...web.metadata, resourceVersion: "3" } });
  await until("web to be gone", async () => (await ask(server.port, "web.default.svc.cluster.local", "A")).rcode === "NXDOMAIN", 1000, 10);
  send("/api/v1/namespaces", "ADDED", { metadata: { name: "fresh", resourceVersion: "4" } });
  await until("the new namespace to exist", async () => (await ask(server.port, "fresh.svc.cluster.local", "A")).rcode === "NOERROR", 1000, 10);
});
