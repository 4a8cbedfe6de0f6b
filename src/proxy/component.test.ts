/**
 * The component started before the node's subnet is known: its informers
 * list at once (a stand-in API server on loopback), the proxy is made and
 * fed what they delivered once the subnet arrives. The kernel is the
 * in-memory FakeRunner: what it checks is which transaction is asked for.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { FakeRunner } from "../kernel/fake-runner.ts";
import { ServiceProxyComponent } from "./component.ts";
import { EPS_PATH, FakeKubeApi, SVC_PATH } from "../../test/support/fake-kube-api.ts";
import { until } from "../../test/support/until.ts";

const service = (name: string, ip: string, rv: string) => ({ metadata: { namespace: "ns", name, resourceVersion: rv }, spec: { clusterIP: ip, ports: [{ port: 80 }] } });
const slice = (name: string, svc: string, ip: string, rv: string) => ({
  metadata: { namespace: "ns", name, resourceVersion: rv, labels: { "kubernetes.io/service-name": svc } },
  addressType: "IPv4", endpoints: [{ addresses: [ip], conditions: { ready: true } }], ports: [{ name: "", port: 8080 }],
});
const options = { nodeName: "n1", clusterCidr: "10.244.0.0/16", serviceCidr: "10.96.0.0/12", watchDrift: false, healthHost: "127.0.0.1" };

describe("service proxy component before the subnet is known", { timeout: 30_000 }, () => {
  const api = new FakeKubeApi();
  let kubeconfig: string;

  before(async () => {
    await api.listen();
    kubeconfig = api.writeKubeconfig();
  });
  after(() => api.close());

  test("lists and watches at once; syncs, with what arrived meanwhile, once the subnet is given", async () => {
    api.lists.set(SVC_PATH, [service("web", "10.96.0.20", "5"), service("old", "10.96.0.21", "5")]);
    api.lists.set(EPS_PATH, [slice("web-a", "web", "10.244.1.5", "6")]);
    const runner = new FakeRunner();
    const subnet = Promise.withResolvers<string>();
    const starting = ServiceProxyComponent.start({ ...options, nodePodCidr: subnet.promise, kubeconfig, runner, log: () => {} });
    await until("both watches open", () => (api.watchers.get(SVC_PATH)?.length ?? 0) > 0 && (api.watchers.get(EPS_PATH)?.length ?? 0) > 0);
    api.push(SVC_PATH, "DELETED", service("old", "10.96.0.21", "7"));
    api.push(SVC_PATH, "ADDED", service("api", "10.96.0.22", "8"));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(runner.calls.filter((c) => c.argv[0] === "nft").length, 0, "no nft before the proxy exists");
    subnet.resolve("10.244.1.0/24");
    const component = await starting;
    try {
      await until("the first sync", () => component.proxy.synced, 10_000);
      assert.deepEqual(component.proxy.servicePorts().map((p) => p.service).sort(), ["ns/api", "ns/web"]);
      const tx = runner.calls.find((c) => c.argv[0] === "nft")?.input ?? "";
      assert.match(tx, /10\.96\.0\.20/);
      assert.match(tx, /10\.244\.1\.5/);
      assert.doesNotMatch(tx, /10\.96\.0\.21/, "the Service deleted before the proxy existed is not programmed");
      // From here on, events go straight to the proxy.
      api.push(SVC_PATH, "DELETED", service("api", "10.96.0.22", "9"));
      await until("the deletion", () => !component.proxy.servicePorts().some((p) => p.service === "ns/api"), 5000);
    } finally {
      await component.stop();
    }
  });

  test("a subnet that never comes (the lease failed): start rejects with its error and the informers stop", async () => {
    const opened = api.watchers.get(SVC_PATH)?.length ?? 0;
    const subnet = Promise.withResolvers<string>();
    const starting = ServiceProxyComponent.start({ ...options, nodePodCidr: subnet.promise, kubeconfig, runner: new FakeRunner(), log: () => {} });
    try {
      await until("its watch open", () => (api.watchers.get(SVC_PATH)?.length ?? 0) > opened);
    } finally {
      subnet.reject(new Error("no lease"));
    }
    await assert.rejects(starting, /no lease/);
    const watch = api.watchers.get(SVC_PATH)![opened]!;
    await until("its watch closed", () => watch.closed, 5000);
  });
});
