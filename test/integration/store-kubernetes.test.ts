/**
 * The agent's kubernetes store against a real API server (etcd and the
 * pinned kube-apiserver on loopback): Nodes are the leases, spec.podCIDR
 * the subnet, weft.dev/* annotations what peers program from.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { KubernetesStore, POD_CIDR_MISMATCH } from "../../src/store/kubernetes/store.ts";
import { LEASE_LOST, STORE_UNAVAILABLE, type LeaseAttrs, type LeaseEvent } from "../../src/store/types.ts";
import { freePort, TestApiServer } from "../support/apiserver.ts";
import { until } from "../support/until.ts";

const range = { podCidr: "10.244.0.0/16", subnetLen: 24 };
const attrs = (node: string, ip: string, mac = "0a:58:00:00:00:01"): LeaseAttrs => ({ node, publicIp: ip, backend: "vxlan", backendData: { vtepMac: mac } });

describe("the kubernetes store", { timeout: 120_000 }, () => {
  const api = new TestApiServer();
  let store: KubernetesStore;
  const events: LeaseEvent[] = [];
  const logs: string[] = [];
  const node = (name: string, podCidr?: string) => {
    const created = api.create({ apiVersion: "v1", kind: "Node", metadata: { name }, ...(podCidr && { spec: { podCIDR: podCidr, podCIDRs: [podCidr] } }) });
    assert.equal(created.status, 0, created.stderr);
  };
  const annotations = (name: string) => JSON.parse(api.kubectl("get", "node", name, "-o", "json").stdout).metadata.annotations ?? {};

  before(async () => {
    await api.start();
    store = new KubernetesStore({ kubeconfig: api.kubeconfig });
  });
  after(async () => {
    await store?.close();
    api.stop();
  });

  test("acquire waits for the Node and its podCIDR, then publishes the annotations", async () => {
    const stopWatch = store.watch((e) => events.push(e));
    const pending = store.acquire({ range, attrs: attrs("n1", "192.168.125.101"), ttlSeconds: 60, log: (l) => logs.push(l) });
    node("n1");
    await until("the wait to be logged", () => logs.some((l) => /waiting for Node n1/.test(l)));
    const patched = api.kubectl("patch", "node", "n1", "--type=merge", "-p", '{"spec":{"podCIDR":"10.244.7.0/24","podCIDRs":["10.244.7.0/24"]}}');
    assert.equal(patched.status, 0, patched.stderr);
    const { lease, origin } = await pending;
    assert.equal(origin, "assigned");
    assert.equal(lease.subnet, "10.244.7.0/24");
    assert.deepEqual(annotations("n1"), { "weft.dev/public-ip": "192.168.125.101", "weft.dev/backend": "vxlan", "weft.dev/backend-data": '{"vtepMac":"0a:58:00:00:00:01"}' });
    await until("the watch to report n1", () => events.some((e) => e.type === "put" && e.lease.attrs.node === "n1"));
    stopWatch();
  });

  test("a Node without weft's annotations is no peer; once annotated it is, and deleted it is gone", async () => {
    const seen: LeaseEvent[] = [];
    const stop = store.watch((e) => seen.push(e));
    node("n2", "10.244.8.0/24");
    await until("n1 in the first listing", () => seen.some((e) => e.type === "put" && e.lease.attrs.node === "n1"));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!seen.some((e) => e.type === "put" && e.lease.attrs.node === "n2"), "n2 has no annotations yet");
    assert.deepEqual((await store.list()).map((l) => l.attrs.node), ["n1"]);
    const a = api.kubectl("annotate", "node", "n2", "weft.dev/public-ip=192.168.125.102", "weft.dev/backend=vxlan", 'weft.dev/backend-data={"vtepMac":"0a:58:00:00:00:02"}');
    assert.equal(a.status, 0, a.stderr);
    await until("n2's put", () => seen.some((e) => e.type === "put" && e.lease.subnet === "10.244.8.0/24" && e.lease.attrs.backendData.vtepMac === "0a:58:00:00:00:02"));
    assert.equal(api.kubectl("delete", "node", "n2").status, 0);
    await until("n2's delete", () => seen.some((e) => e.type === "delete" && e.subnet === "10.244.8.0/24"));
    stop();
  });

  test("renew republishes changed attrs; a deleted Node loses its lease", async () => {
    const lease = await store.renew("10.244.7.0/24", attrs("n1", "192.168.125.111", "0a:58:00:00:00:09"), 60);
    assert.equal(lease.attrs.publicIp, "192.168.125.111");
    assert.equal(annotations("n1")["weft.dev/public-ip"], "192.168.125.111");
    node("n3", "10.244.9.0/24");
    assert.equal(api.kubectl("delete", "node", "n3").status, 0);
    await assert.rejects(store.renew("10.244.9.0/24", attrs("n3", "192.168.125.103"), 60), (err: Error & { code?: string }) => err.code === LEASE_LOST && /Node object is gone/.test(err.message));
  });

  test("programmed sets NetworkUnavailable=False; release removes the annotations", async () => {
    const lease = (await store.get("10.244.7.0/24"))!;
    await store.programmed(lease);
    const conditions = JSON.parse(api.kubectl("get", "node", "n1", "-o", "json").stdout).status.conditions;
    assert.deepEqual(conditions.map((c: { type: string; status: string; reason: string }) => [c.type, c.status, c.reason]), [["NetworkUnavailable", "False", "WeftIsUp"]]);
    await store.release("10.244.7.0/24", "n1");
    assert.deepEqual(annotations("n1"), {});
    assert.deepEqual(await store.list(), []);
  });

  test("nodeAddress is the Node's InternalIP, the underlay the agent picks when told nothing", async () => {
    assert.equal(await store.nodeAddress("n1"), undefined, "no addresses reported yet");
    const r = api.kubectl("patch", "node", "n1", "--subresource=status", "--type=merge", "-p", '{"status":{"addresses":[{"type":"Hostname","address":"n1"},{"type":"InternalIP","address":"192.168.125.101"}]}}');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await store.nodeAddress("n1"), "192.168.125.101");
    assert.equal(await store.nodeAddress("nobody"), undefined);
  });

  test("a podCIDR outside the configured cluster CIDR is an error naming both", async () => {
    node("n4", "10.100.4.0/24");
    await assert.rejects(
      store.acquire({ range, attrs: attrs("n4", "192.168.125.104"), ttlSeconds: 60 }),
      (err: Error & { code?: string }) => err.code === POD_CIDR_MISMATCH && /spec\.podCIDR 10\.100\.4\.0\/24 is outside the cluster CIDR 10\.244\.0\.0\/16/.test(err.message),
    );
    assert.deepEqual(annotations("n4"), {}, "nothing published");
  });

  test("an API server that is down is STORE_UNAVAILABLE, which the agent retries; a missing kubeconfig is named", async () => {
    const down = new KubernetesStore({ kubeconfig: api.kubeconfigFor(`https://127.0.0.1:${await freePort()}`) });
    await assert.rejects(down.list(), (err: Error & { code?: string }) => err.code === STORE_UNAVAILABLE && /cannot be reached while listing the Nodes/.test(err.message));
    await down.close();
    const missing = new KubernetesStore({ kubeconfig: "/nonexistent/kubeconfig" });
    await assert.rejects(missing.list(), (err: Error & { code?: string }) => err.code === "KUBECONFIG_INVALID" && /\/nonexistent\/kubeconfig/.test(err.message));
    await missing.close();
  });
});
