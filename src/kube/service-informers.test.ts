/**
 * The informers against a real HTTP server on loopback that speaks the
 * API's list and watch for Services and EndpointSlices
 * (test/support/fake-kube-api.ts).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startServiceInformers, type ServiceInformers, type ServiceSink } from "./service-informers.ts";
import { until } from "../../test/support/until.ts";
import { EPS_PATH, FakeKubeApi, SVC_PATH } from "../../test/support/fake-kube-api.ts";
import type { EndpointSlice, Service } from "../proxy/types.ts";

class RecordingSink implements ServiceSink {
  services = new Map<string, Service>();
  slices = new Map<string, EndpointSlice>();
  synced: string[] = [];
  upsertService(s: Service) { this.services.set(`${s.namespace}/${s.name}`, s); }
  deleteService(ns: string, name: string) { this.services.delete(`${ns}/${name}`); }
  upsertSlice(s: EndpointSlice) { this.slices.set(`${s.namespace}/${s.name}`, s); }
  deleteSlice(ns: string, name: string) { this.slices.delete(`${ns}/${name}`); }
  markServicesSynced() { this.synced.push("services"); }
  markSlicesSynced() { this.synced.push("slices"); }
}

const service = (name: string, ip: string) => ({ metadata: { namespace: "ns", name, resourceVersion: "5" }, spec: { clusterIP: ip, ports: [{ port: 80 }] } });
const epslice = (name: string, svc: string, ip: string) => ({
  metadata: { namespace: "ns", name, resourceVersion: "6", labels: { "kubernetes.io/service-name": svc } },
  addressType: "IPv4", endpoints: [{ addresses: [ip] }], ports: [{ name: "", port: 8080 }],
});

describe("service informers against a stand-in API server", { timeout: 30_000 }, () => {
  const api = new FakeKubeApi();
  let kubeconfig: string;
  const running: ServiceInformers[] = [];
  const logs: string[] = [];

  before(async () => {
    await api.listen();
    kubeconfig = api.writeKubeconfig();
  });
  after(async () => {
    for (const r of running) await r.stop();
    await api.close();
  });

  test("lists convert to slim objects; synced comes only after each kind's list; watch events follow", async () => {
    api.lists.set(SVC_PATH, [service("web", "10.96.0.20")]);
    api.lists.set(EPS_PATH, [epslice("web-a", "web", "10.244.1.5")]);
    api.held.set(EPS_PATH, () => {});
    const sink = new RecordingSink();
    running.push(await startServiceInformers(kubeconfig, sink, (l) => logs.push(l)));
    await until("services listed", () => sink.synced.includes("services"));
    assert.deepEqual(sink.synced, ["services"], "slices are not synced while their list is held");
    assert.deepEqual(sink.services.get("ns/web")?.clusterIPs, ["10.96.0.20"]);
    api.held.get(EPS_PATH)!();
    api.held.delete(EPS_PATH);
    await until("slices listed", () => sink.synced.includes("slices"));
    assert.deepEqual(sink.slices.get("ns/web-a")?.endpoints.map((e) => e.address), ["10.244.1.5"]);

    await until("both watches open", () => (api.watchers.get(SVC_PATH)?.length ?? 0) > 0 && (api.watchers.get(EPS_PATH)?.length ?? 0) > 0);
    api.push(EPS_PATH, "MODIFIED", { ...epslice("web-a", "web", "10.244.1.6"), metadata: { ...epslice("web-a", "web", "").metadata, resourceVersion: "11" } });
    await until("the slice update", () => sink.slices.get("ns/web-a")?.endpoints[0]?.address === "10.244.1.6");
    api.push(EPS_PATH, "MODIFIED", { ...epslice("web-a", "web", "10.244.1.6"), metadata: { namespace: "ns", name: "web-a", resourceVersion: "12" } });
    await until("a slice that lost its label counts as gone", () => !sink.slices.has("ns/web-a"));
    api.push(SVC_PATH, "DELETED", { ...service("web", "10.96.0.20"), metadata: { namespace: "ns", name: "web", resourceVersion: "13" } });
    await until("the service deletion", () => !sink.services.has("ns/web"));
    assert.deepEqual(sink.synced, ["services", "slices"], "synced once each");
  });

  test("an API server that refuses the list: no sync, one log line, then synced once it answers", async () => {
    api.failing.add(SVC_PATH);
    const sink = new RecordingSink();
    logs.length = 0;
    running.push(await startServiceInformers(kubeconfig, sink, (l) => logs.push(l)));
    await until("slices listed", () => sink.synced.includes("slices"));
    await until("the failure logged", () => logs.some((l) => /Services informer failed/.test(l)));
    assert.deepEqual(sink.synced, ["slices"]);
    api.failing.delete(SVC_PATH);
    await until("services listed after a restart", () => sink.synced.includes("services"), 10_000);
    assert.ok(logs.some((l) => /Services informer is back/.test(l)), logs.join("\n"));
  });

  test("a list of several pages whose second page fails: the failure is logged, the list made again, every object delivered and synced once", async () => {
    api.lists.set(SVC_PATH, Array.from({ length: 1100 }, (_, i) => service(`s${i}`, `10.96.${i >> 8}.${i & 255}`)));
    api.lists.set(EPS_PATH, []);
    api.failOnce.add(`${SVC_PATH}:500`);
    api.listQueries.length = 0;
    const sink = new RecordingSink();
    logs.length = 0;
    running.push(await startServiceInformers(kubeconfig, sink, (l) => logs.push(l)));
    await until("services listed", () => sink.synced.includes("services"), 10_000);
    assert.equal(sink.services.size, 1100);
    assert.equal(sink.services.get("ns/s1099")?.clusterIPs[0], "10.96.4.75");
    assert.ok(logs.some((l) => /Services informer failed: GET \/api\/v1\/services\?limit=500&continue=.*etcd timed out \(HTTP 500\)/.test(l)), logs.join("\n"));
    const pages = api.listQueries.filter((q) => q.get("limit") === "500").length;
    assert.ok(pages >= 2 + 3 + 1, `pages asked: ${pages} (two before the failure, three after it, one for the slices)`);
    assert.deepEqual(sink.synced.filter((k) => k === "services"), ["services"]);
  });

  test("a watch that expires (410) lists again: objects gone meanwhile are removed, the rest kept, synced not repeated", async () => {
    api.lists.set(SVC_PATH, [service("a", "10.96.0.1"), service("b", "10.96.0.2")]);
    api.lists.set(EPS_PATH, []);
    const sink = new RecordingSink();
    running.push(await startServiceInformers(kubeconfig, sink, () => {}));
    await until("services listed", () => sink.synced.includes("services"));
    await until("the services watch open", () => (api.watchers.get(SVC_PATH)?.length ?? 0) > 0);
    api.lists.set(SVC_PATH, [service("b", "10.96.0.2"), service("c", "10.96.0.3")]);
    api.expireWatches(SVC_PATH);
    await until("the relist", () => sink.services.has("ns/c") && !sink.services.has("ns/a"));
    assert.deepEqual([...sink.services.keys()].sort(), ["ns/b", "ns/c"]);
    assert.deepEqual(sink.synced.filter((k) => k === "services"), ["services"]);
  });

  test("a kubeconfig that cannot be read is KUBECONFIG_INVALID", async () => {
    await assert.rejects(startServiceInformers(`${kubeconfig}.missing`, new RecordingSink(), () => {}), (e: { code?: string }) => e.code === "KUBECONFIG_INVALID");
  });
});
