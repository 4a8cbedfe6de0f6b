/**
 * The Kubernetes-backed source with the real @kubernetes/client-node,
 * against a small API server on loopback that serves lists and watch
 * streams of Services, EndpointSlices and Namespaces as the real one does
 * (the lab's real API server is exercised by the lab tests).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { until } from "../../test/support/until.ts";
import { parseDnsConfig } from "./config.ts";
import { startKubeSource } from "./kube-source.ts";
import { DnsServer } from "./server.ts";
import type { DnsSource } from "./source.ts";
import { ask, clusterObjects, sections, startFakeApiServer, type FakeApiServer } from "./testing.ts";

const objects = clusterObjects();
let api: FakeApiServer;
let source: DnsSource;
let server: DnsServer;

before(async () => {
  api = await startFakeApiServer(objects);
  source = await startKubeSource({ kubeconfig: api.kubeconfig, pods: false, log: () => {} });
  server = new DnsServer(parseDnsConfig("port: 0\nhttpPort: 0\nlisten: 127.0.0.1\nupstreams: []", "t"), source, { log: () => {} });
  await server.start();
});

after(async () => {
  await server?.close();
  await source?.close();
  await api?.close();
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
  await until("the watches to be open", () => api.watching() === 3, 5000);
  const web = { metadata: { name: "web", namespace: "default", resourceVersion: "2" }, spec: { clusterIP: "10.96.0.20", clusterIPs: ["10.96.0.20"], ports: [{ port: 80 }] } };
  const t0 = Date.now();
  api.send("/api/v1/services", "ADDED", web);
  await until("web to resolve", async () => (await ask(server.port, "web.default.svc.cluster.local", "A")).rcode === "NOERROR", 1000, 10);
  assert.ok(Date.now() - t0 < 1000);
  api.send("/api/v1/services", "DELETED", { ...web, metadata: { ...web.metadata, resourceVersion: "3" } });
  await until("web to be gone", async () => (await ask(server.port, "web.default.svc.cluster.local", "A")).rcode === "NXDOMAIN", 1000, 10);
  api.send("/api/v1/namespaces", "ADDED", { metadata: { name: "fresh", resourceVersion: "4" } });
  await until("the new namespace to exist", async () => (await ask(server.port, "fresh.svc.cluster.local", "A")).rcode === "NOERROR", 1000, 10);
});

test("a watch the server ends is started again from the last version; 410 Gone lists again", async () => {
  await until("the watches to be open", () => api.watching() === 3, 5000);
  api.dropWatches();
  await until("the watches to be open again", () => api.watching() === 3, 5000);
  api.send("/api/v1/services", "ADDED", { metadata: { name: "after", namespace: "default", resourceVersion: "20" }, spec: { clusterIP: "10.96.0.21", clusterIPs: ["10.96.0.21"] } });
  await until("a Service sent on the new watch to resolve", async () => (await ask(server.port, "after.default.svc.cluster.local", "A")).rcode === "NOERROR", 2000, 10);
  // Missed while the version was too old: only a new list shows it.
  objects["/api/v1/services"]!.push({ metadata: { name: "missed", namespace: "default", resourceVersion: "30" }, spec: { clusterIP: "10.96.0.22", clusterIPs: ["10.96.0.22"] } });
  api.send("/api/v1/services", "ERROR", { kind: "Status", apiVersion: "v1", status: "Failure", reason: "Expired", code: 410 });
  api.dropWatches();
  await until("the Service only a new list has to resolve", async () => (await ask(server.port, "missed.default.svc.cluster.local", "A")).rcode === "NOERROR", 3000, 10);
  // The list replaced the objects: "after" came from a watch event, not from the list.
  assert.equal((await ask(server.port, "after.default.svc.cluster.local", "A")).rcode, "NXDOMAIN");
});

test("pods: verified watches Pods too: a pod's own address has its record, another address none", async () => {
  const podSource = await startKubeSource({ kubeconfig: api.kubeconfig, pods: true, log: () => {} });
  const s = new DnsServer(parseDnsConfig("port: 0\nhttpPort: 0\nlisten: 127.0.0.1\nupstreams: []\npods: verified", "t"), podSource, { log: () => {} });
  await s.start();
  try {
    await until("the source with pods to sync", () => podSource.synced(), 5000);
    const r = await until("the pod record", async () => {
      const a = await ask(s.port, "10-244-1-20.default.pod.cluster.local", "A");
      return a.rcode === "NOERROR" ? a : undefined;
    }, 5000);
    assert.deepEqual(sections(r.packet).answer, ["10-244-1-20.default.pod.cluster.local 5 A 10.244.1.20"]);
    assert.equal((await ask(s.port, "10-244-1-21.default.pod.cluster.local", "A")).rcode, "NXDOMAIN");
  } finally {
    await s.close();
    await podSource.close();
  }
});
