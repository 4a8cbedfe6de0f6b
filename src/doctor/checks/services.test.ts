import { test } from "node:test";
import assert from "node:assert/strict";
import { fakeCluster, fakeKubeCluster } from "../testing.ts";
import { fixtureSlices, withServices } from "../testing-services.ts";
import { checkServices } from "./services.ts";

test("services: those without a ready endpoint are named, once, on the first node", () => {
  const cluster = fakeKubeCluster(2);
  withServices(cluster);
  const [first, second] = cluster.nodes;
  const found = checkServices(first!, cluster);
  assert.equal(found.length, 1);
  assert.equal(found[0]!.status, "warn");
  assert.match(found[0]!.message, /^1 of 3 Services has no ready endpoint, so connections to it are refused: default\/empty$/);
  assert.match(found[0]!.fix!, /selector/);
  assert.deepEqual(checkServices(second!, cluster), []);
});

test("services: not-ready endpoints count as none; serving-terminating ones serve; headless and ExternalName are left out", () => {
  const cluster = fakeKubeCluster(1);
  withServices(cluster);
  const api = (cluster.kubernetes as { value: { services: import("../../proxy/types.ts").Service[]; slices: import("../../proxy/types.ts").EndpointSlice[] } }).value;
  const web = api.slices.find((s) => s.service === "web")!;
  web.endpoints = web.endpoints.map((e) => ({ ...e, ready: false, serving: false }));
  api.services.push({ ...api.services[1]!, name: "headless", clusterIPs: [] }, { ...api.services[1]!, name: "ext", type: "ExternalName", clusterIPs: [] });
  let found = checkServices(cluster.nodes[0]!, cluster);
  assert.match(found[0]!.message, /^2 of 3 Services have no ready endpoint, so connections to them are refused: default\/web and default\/empty$/);
  web.endpoints = web.endpoints.map((e) => ({ ...e, serving: true, terminating: true }));
  api.slices.find((s) => s.service === "empty")!.endpoints = fixtureSlices()[1]!.endpoints;
  api.slices.find((s) => s.service === "empty")!.ports = [{ name: "", protocol: "TCP", port: 8080 }];
  found = checkServices(cluster.nodes[0]!, cluster);
  assert.deepEqual([found[0]!.status, found[0]!.message], ["ok", "all 3 Services with a ClusterIP have ready endpoints"]);
});

test("services: without the API, nothing is said", () => {
  const cluster = fakeCluster(1);
  assert.deepEqual(checkServices(cluster.nodes[0]!, cluster), []);
  const failed = fakeKubeCluster(1);
  failed.kubernetes = { ok: false, error: "connection refused" };
  assert.deepEqual(checkServices(failed.nodes[0]!, failed), []);
});
