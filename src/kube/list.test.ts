/**
 * listAll against a stand-in API server on loopback (test/support/fake-kube-api.ts)
 * that cuts lists into pages as the API server does.
 */
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { KubeConfig } from "@kubernetes/client-node";
import { KUBE_LIST_FAILED, KubeListError, listAll } from "./list.ts";
import { FakeKubeApi, SVC_PATH } from "../../test/support/fake-kube-api.ts";

const service = (i: number) => ({ metadata: { namespace: "ns", name: `s${i}`, resourceVersion: String(100 + i), managedFields: [{ manager: "x" }] }, spec: { clusterIP: `10.96.0.${i}` } });
const nameOf = (o: { metadata: { name: string } }) => o.metadata.name;

describe("listAll", { timeout: 30_000 }, () => {
  const api = new FakeKubeApi();
  const kc = new KubeConfig();

  before(async () => {
    await api.listen();
    kc.loadFromFile(api.writeKubeconfig());
  });
  after(() => api.close());
  beforeEach(() => {
    api.listQueries.length = 0;
    api.listPorts.length = 0;
    api.expired.clear();
    api.failing.clear();
    api.garbled.clear();
  });

  test("lists page by page, following continue, and converts every item", async () => {
    api.lists.set(SVC_PATH, Array.from({ length: 7 }, (_, i) => service(i)));
    const got = await listAll(kc, SVC_PATH, nameOf, { limit: 3 });
    assert.deepEqual(got.items, ["s0", "s1", "s2", "s3", "s4", "s5", "s6"]);
    assert.equal(got.resourceVersion, "10");
    assert.deepEqual(api.listQueries.map((q) => [q.get("limit"), q.get("continue")]), [["3", null], ["3", `${SVC_PATH}:3`], ["3", `${SVC_PATH}:6`]]);
    assert.equal(new Set(api.listPorts.slice(-3)).size, 1, "the pages share one connection");
    assert.equal(api.listQueries[0]!.has("resourceVersion"), false, "the latest version, not the API server's cache");
  });

  test("asks for 500 a page by default and passes the field selector", async () => {
    api.lists.set(SVC_PATH, [service(1)]);
    const got = await listAll(kc, SVC_PATH, nameOf, { fieldSelector: "spec.nodeName=n1" });
    assert.deepEqual(got.items, ["s1"]);
    assert.equal(api.listQueries[0]!.get("limit"), "500");
    assert.equal(api.listQueries[0]!.get("fieldSelector"), "spec.nodeName=n1");
  });

  test("an empty list is no items, with the list's resourceVersion", async () => {
    api.lists.set(SVC_PATH, []);
    assert.deepEqual(await listAll(kc, SVC_PATH, nameOf), { items: [], resourceVersion: "10" });
  });

  test("an expired continue token (410): lists again in one piece, nothing twice", async () => {
    api.lists.set(SVC_PATH, Array.from({ length: 5 }, (_, i) => service(i)));
    api.expired.add(`${SVC_PATH}:2`);
    const got = await listAll(kc, SVC_PATH, nameOf, { limit: 2 });
    assert.deepEqual(got.items, ["s0", "s1", "s2", "s3", "s4"]);
    assert.deepEqual(api.listQueries.map((q) => [q.get("limit"), q.get("continue")]), [["2", null], ["2", `${SVC_PATH}:2`], [null, null]]);
  });

  test("a refused page is a KubeListError naming the request, the status and the server's message", async () => {
    api.failing.add(SVC_PATH);
    await assert.rejects(listAll(kc, SVC_PATH, nameOf), (err: unknown) => {
      assert.ok(err instanceof KubeListError);
      assert.equal(err.code, KUBE_LIST_FAILED);
      assert.equal(err.status, 503);
      assert.match(err.message, /GET \/api\/v1\/services\?limit=500: not ready \(HTTP 503\)/);
      return true;
    });
  });

  test("a page that is not a list is a KubeListError", async () => {
    api.garbled.add(SVC_PATH);
    await assert.rejects(listAll(kc, SVC_PATH, nameOf), (err: unknown) => err instanceof KubeListError && /has no items list/.test(err.message));
  });

  test("an unknown path is a KubeListError with HTTP 404", async () => {
    await assert.rejects(listAll(kc, "/api/v1/nothing", nameOf), (err: unknown) => err instanceof KubeListError && err.status === 404);
  });

  test("no API server listening is a KubeListError without a status", async () => {
    const gone = new KubeConfig();
    gone.loadFromString(JSON.stringify({
      apiVersion: "v1", kind: "Config", "current-context": "x",
      clusters: [{ name: "c", cluster: { server: "http://127.0.0.1:1", "insecure-skip-tls-verify": true } }],
      users: [{ name: "u", user: { token: "t" } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    }));
    await assert.rejects(listAll(gone, SVC_PATH, nameOf), (err: unknown) => err instanceof KubeListError && err.status === undefined && /ECONNREFUSED/.test(err.message));
  });
});
