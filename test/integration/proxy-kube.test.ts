/**
 * The service proxy end to end from API objects: a stand-in API server
 * (test/support/fake-kube-api.ts) serves Services and EndpointSlices as the
 * API server does, the proxy component (informers + proxy) programs a node
 * namespace, and real clients in pod namespaces reach real servers.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { backends, ProxyLab, PROXY_OPTIONS } from "./proxy-topology.ts";
import { EPS_PATH, FakeKubeApi, SVC_PATH } from "../support/fake-kube-api.ts";
import { until } from "../support/until.ts";
import { createRunner } from "../../src/kernel/runner.ts";
import { ServiceProxyComponent } from "../../src/proxy/component.ts";
import { sleep } from "../../src/lib/sleep.ts";

const slice = (endpoints: string[], rv: string, trigger?: string) => ({
  metadata: {
    namespace: "default", name: "web-x", resourceVersion: rv, labels: { "kubernetes.io/service-name": "web" },
    ...(trigger ? { annotations: { "endpoints.kubernetes.io/last-change-trigger-time": trigger } } : {}),
  },
  addressType: "IPv4",
  endpoints: endpoints.map((ip) => ({ addresses: [ip], conditions: { ready: true }, nodeName: "n1" })),
  ports: [{ name: "http", port: 8080, protocol: "TCP" }],
});

describe("service proxy from Services and EndpointSlices (informers)", { timeout: 90_000 }, () => {
  const api = new FakeKubeApi();
  let lab: ProxyLab;
  let client: string;
  let component: ServiceProxyComponent | undefined;
  const logs: string[] = [];

  before(async () => {
    lab = new ProxyLab("kube");
    await lab.addAgentTable();
    client = lab.addPod(2);
    for (const k of [10, 11]) await lab.serve(lab.addPod(k), `b${k}`, [8080]);
    await api.listen();
  });
  after(async () => {
    await component?.stop();
    await api.close();
    await lab.dispose();
  });

  test("nothing is programmed until both informers have listed; then the Service answers", async () => {
    api.lists.set(SVC_PATH, [{ metadata: { namespace: "default", name: "web", resourceVersion: "3" }, spec: { clusterIP: "10.96.0.40", ports: [{ name: "http", port: 80, targetPort: "http" }] } }]);
    api.lists.set(EPS_PATH, [slice(["10.244.1.10", "10.244.1.11"], "4")]);
    api.held.set(EPS_PATH, () => {});
    component = await ServiceProxyComponent.start({
      ...PROXY_OPTIONS, kubeconfig: api.writeKubeconfig(), runner: createRunner(lab.node), log: (l) => logs.push(l),
    });
    await until("the services list", () => (api.watchers.get(SVC_PATH)?.length ?? 0) > 0);
    await sleep(300);
    const r = await createRunner(lab.node).exec(["nft", "list", "table", "ip", "weft-proxy"]);
    assert.notEqual(r.code, 0, "no table while the EndpointSlices are not listed");
    api.held.get(EPS_PATH)!();
    api.held.delete(EPS_PATH);
    await until("the first sync", () => component!.proxy.synced, 10_000);
    const t = await lab.probe(client, "tcp", "10.96.0.40", 80, 60);
    assert.deepEqual([...backends(t).names].sort(), ["b10", "b11"]);
  });

  test("an EndpointSlice change from the watch takes effect within 1 s, and its programming latency is measured", async () => {
    await until("the slices watch", () => (api.watchers.get(EPS_PATH)?.length ?? 0) > 0);
    const t0 = Date.now();
    api.push(EPS_PATH, "MODIFIED", slice(["10.244.1.11"], "5", new Date(t0).toISOString()));
    await until("b10 to leave", async () => {
      const t = await lab.probe(client, "tcp", "10.96.0.40", 80, 10, 500);
      return Object.keys(t.answers).length === 1 && backends(t).names.has("b11");
    }, 3000, 10);
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    const text = component!.metricsText();
    assert.match(text, /^weft_proxy_network_programming_duration_seconds_count [1-9]/m);
    assert.match(text, /^weft_proxy_programmed_endpoints 1$/m);
  });
});
