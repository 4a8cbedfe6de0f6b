import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiException } from "@kubernetes/client-node";
import { boundPodMissing, refusedByGraph, whileGraphLags } from "./node-graph.ts";

const forbidden = () => new ApiException(403, "Forbidden", '{"message":"no relationship found between node \'node1\' and this object"}', {});

test("a 403 is asked again until the graph has the pod", async () => {
  let asked = 0;
  const value = await whileGraphLags(async () => {
    if (++asked < 3) throw forbidden();
    return "kube-root-ca.crt";
  }, refusedByGraph, 1, 1000);
  assert.equal(value, "kube-root-ca.crt");
  assert.equal(asked, 3);
});

test("a 403 that lasts, or any other error, is the caller's", async () => {
  let asked = 0;
  await assert.rejects(whileGraphLags(async () => {
    asked++;
    throw forbidden();
  }, refusedByGraph, 5, 30), (err: unknown) => err instanceof ApiException && err.code === 403);
  assert.ok(asked >= 2 && asked <= 8, `asked ${asked} times in 30 ms`);
  asked = 0;
  await assert.rejects(whileGraphLags(async () => {
    asked++;
    throw new ApiException(404, "Not Found", "{}", {});
  }, refusedByGraph, 1, 1000), (err: unknown) => err instanceof ApiException && err.code === 404);
  assert.equal(asked, 1);
});

test("a TokenRequest's 404 for its own pod is the server's lag; for the ServiceAccount, or another pod, it is not", () => {
  const notFound = (kind: string, name: string) => new ApiException(404, "Not Found", JSON.stringify({ kind: "Status", code: 404, reason: "NotFound", message: `${kind} "${name}" not found`, details: { name, kind } }), {});
  assert.equal(boundPodMissing(notFound("pod", "web-1"), "web-1"), true);
  assert.equal(boundPodMissing(notFound("serviceaccounts", "default"), "web-1"), false);
  assert.equal(boundPodMissing(notFound("pod", "web-2"), "web-1"), false);
  assert.equal(boundPodMissing(forbidden(), "web-1"), false);
  assert.equal(boundPodMissing(new Error("socket hang up"), "web-1"), false);
});
