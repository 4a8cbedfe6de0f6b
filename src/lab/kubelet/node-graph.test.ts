import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiException } from "@kubernetes/client-node";
import { whileGraphLags } from "./node-graph.ts";

const forbidden = () => new ApiException(403, "Forbidden", '{"message":"no relationship found between node \'node1\' and this object"}', {});

test("a 403 is asked again until the graph has the pod", async () => {
  let asked = 0;
  const value = await whileGraphLags(async () => {
    if (++asked < 3) throw forbidden();
    return "kube-root-ca.crt";
  }, 1, 1000);
  assert.equal(value, "kube-root-ca.crt");
  assert.equal(asked, 3);
});

test("a 403 that lasts, or any other error, is the caller's", async () => {
  let asked = 0;
  await assert.rejects(whileGraphLags(async () => {
    asked++;
    throw forbidden();
  }, 5, 30), (err: unknown) => err instanceof ApiException && err.code === 403);
  assert.ok(asked >= 2 && asked <= 8, `asked ${asked} times in 30 ms`);
  asked = 0;
  await assert.rejects(whileGraphLags(async () => {
    asked++;
    throw new ApiException(404, "Not Found", "{}", {});
  }, 1, 1000), (err: unknown) => err instanceof ApiException && err.code === 404);
  assert.equal(asked, 1);
});
