/**
 * Network policy end to end from API objects: a real kube-apiserver
 * (test/support/apiserver.ts) holds Namespaces, Pods (bound to node n1,
 * their addresses written into status as a kubelet would) and
 * NetworkPolicies; the policy component (informers + controller) programs
 * node n1's namespace; real clients in pod namespaces probe real servers.
 * Each change made through the API is timed until the probes see it.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { NetworkingV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { PolicyLab, type LabPod } from "./policy-topology.ts";
import { TestApiServer } from "../support/apiserver.ts";
import { until } from "../support/until.ts";
import { sleep } from "../../src/lib/sleep.ts";
import { connectKube, type Kube } from "../../src/kube/client.ts";
import { createRunner } from "../../src/kernel/runner.ts";
import { inNetns } from "../../src/lab/testing.ts";
import { PolicyComponent } from "../../src/policy/component.ts";

const MERGE = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

describe("network policy from the Kubernetes API (informers on Pods, Namespaces, NetworkPolicies)", { timeout: 180_000 }, () => {
  const api = new TestApiServer();
  let lab: PolicyLab;
  let kube: Kube;
  let net: NetworkingV1Api;
  let component: PolicyComponent | undefined;
  let client: LabPod;
  let server: LabPod;
  const logs: string[] = [];

  before(async () => {
    lab = new PolicyLab("kube");
    client = lab.addPod("n1", "client");
    server = lab.addPod("n1", "server");
    await lab.serve(server, "server", [80]);
    await api.start();
    kube = connectKube(api.kubeconfig);
    net = kube.config.makeApiClient(NetworkingV1Api);
    for (const ns of ["x", "y"]) {
      await kube.core.createNamespace({ body: { metadata: { name: ns } } });
      // No controller manager here to make it; the ServiceAccount admission wants it.
      await kube.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "default" } } });
    }
    for (const [ns, name, pod] of [["y", "client", client], ["x", "server", server]] as const) {
      await kube.core.createNamespacedPod({
        namespace: ns,
        body: { metadata: { name, labels: { app: name } }, spec: { nodeName: "n1", containers: [{ name: "c", image: "none", ports: [{ name: "http", containerPort: 80 }] }] } },
      });
      await kube.core.patchNamespacedPodStatus({ namespace: ns, name, body: { status: { phase: "Running", podIP: pod.ip, podIPs: [{ ip: pod.ip }] } } }, MERGE);
    }
  });
  after(async () => {
    await component?.stop();
    await lab?.dispose();
    api.stop();
  });

  const reach = async (timeoutMs = 300) => Object.values(await lab.probe(client, timeoutMs, [`tcp:${server.ip}:80`]))[0]!;
  const timed = async (what: string, want: boolean) => {
    const t0 = Date.now();
    await until(what, async () => (await reach()) === want, 10_000, 0);
    return Date.now() - t0;
  };

  test("the component lists everything, then enforces policies created, changed and deleted through the API", async () => {
    component = await PolicyComponent.start({ kubeconfig: api.kubeconfig, nodeName: "n1", runner: createRunner(lab.nodeNs.n1), log: (l) => logs.push(l), minSyncIntervalMs: 10 });
    await until("the first sync", () => component!.controller.synced, 20_000);
    assert.equal(await reach(1000), true);

    await net.createNamespacedNetworkPolicy({ namespace: "x", body: { metadata: { name: "server" }, spec: { podSelector: { matchLabels: { app: "server" } }, ingress: [{ _from: [{ namespaceSelector: { matchLabels: { team: "blue" } }, podSelector: { matchLabels: { app: "client" } } }], ports: [{ port: "http" }] }] } } });
    const created = await timed("the new policy to isolate the server", false);

    await kube.core.patchNamespace({ name: "y", body: { metadata: { labels: { team: "blue" } } } }, MERGE);
    const nsRelabelled = await timed("the client's namespace joining team blue to let it in", true);

    await kube.core.patchNamespacedPod({ namespace: "y", name: "client", body: { metadata: { labels: { app: "other" } } } }, MERGE);
    const podRelabelled = await timed("the relabelled client to be shut out", false);

    await net.deleteNamespacedNetworkPolicy({ namespace: "x", name: "server" });
    const deleted = await timed("the deleted policy to let everyone in", true);

    for (const [what, ms] of Object.entries({ created, nsRelabelled, podRelabelled, deleted })) assert.ok(ms < 1000, `${what} took ${ms} ms (from the API call's answer to the probe seeing it)`);
    process.stderr.write(`policy-kube: API change to enforcement: ${JSON.stringify({ created, nsRelabelled, podRelabelled, deleted })} ms\n`);

    // The status is the controller's view; it follows the deletion event, which may come a moment after the probe saw the table change.
    await until("the status to show no isolated pod", () => component!.status().pods.every((p) => !p.ingress.isolated), 5_000, 20);
    const status = component.status();
    assert.deepEqual(status.pods.map((p) => [p.namespace, p.name, p.ingress.isolated]), [["x", "server", false], ["y", "client", false]]);
    assert.match(await component.metricsText(), /weft_policy_syncs_total\{kind="partial"\} [1-9]/);
    assert.deepEqual(logs.filter((l) => /fail/.test(l)), []);
  });
  test("a pod the CNI plugin reports at ADD is isolated before its status has an address; a new sandbox's address counts at once", async () => {
    assert.ok(component, "the first test started the component");
    const c = component!;
    const inTable = async () => (await inNetns(lab.nodeNs.n1, ["nft", "list", "map", "inet", "weft-policy", "ingress-pods"]));
    await net.createNamespacedNetworkPolicy({ namespace: "x", body: { metadata: { name: "deny-fresh" }, spec: { podSelector: { matchLabels: { app: "fresh" } }, policyTypes: ["Ingress"] } } });
    await kube.core.createNamespacedPod({ namespace: "x", body: { metadata: { name: "fresh", labels: { app: "fresh" } }, spec: { nodeName: "n1", containers: [{ name: "c", image: "none" }] } } });
    const t0 = performance.now();
    const answer = await c.podAdded("x", "fresh", "10.244.1.77");
    const ms = performance.now() - t0;
    assert.deepEqual(answer, { programmed: true, isolated: { ingress: true, egress: false } });
    assert.match(await inTable(), /10\.244\.1\.77 : jump in-10\.244\.1\.77/);
    assert.deepEqual(c.explain({ src: "10.244.1.1", dst: "10.244.1.77", protocol: "TCP", port: 80 }).ingress, { pod: "x/fresh", isolated: true, policies: ["x/deny-fresh"], allowedBy: [], allowed: false });
    process.stderr.write(`policy-kube: podAdded answered in ${ms.toFixed(1)} ms\n`);

    // A pod the API does not have: no policy can select it; the answer says so after the wait.
    const ghost = await c.podAdded("x", "ghost", "10.244.1.79");
    assert.deepEqual([ghost.programmed, ghost.known], [false, false]);

    // The status with that address ends the stand-in, and nothing changes in the table.
    await kube.core.patchNamespacedPodStatus({ namespace: "x", name: "fresh", body: { status: { phase: "Running", podIP: "10.244.1.77", podIPs: [{ ip: "10.244.1.77" }] } } }, MERGE);
    // (Nothing the controller shows tells the status event apart from the stand-in; the informer delivers within milliseconds here.)
    await sleep(500);
    // A new sandbox (10.244.1.78) while the status still shows the old one: both count until the status has the new one, so ADD is never refused for it.
    assert.deepEqual(await c.podAdded("x", "fresh", "10.244.1.78"), { programmed: true, isolated: { ingress: true, egress: false } });
    assert.match(await inTable(), /10\.244\.1\.78 : jump/);
    await kube.core.patchNamespacedPodStatus({ namespace: "x", name: "fresh", body: { status: { podIP: "10.244.1.78", podIPs: [{ ip: "10.244.1.78" }] } } }, MERGE);
    await until("only the new address in the table", async () => {
      const t = await inTable();
      return /10\.244\.1\.78 : jump/.test(t) && !/10\.244\.1\.77/.test(t);
    }, 5_000, 20);

    await kube.core.deleteNamespacedPod({ namespace: "x", name: "fresh", gracePeriodSeconds: 0 });
    await net.deleteNamespacedNetworkPolicy({ namespace: "x", name: "deny-fresh" });
    await until("fresh gone from the table", async () => !/10\.244\.1\.78/.test(await inTable()), 5_000, 20);
  });
});
