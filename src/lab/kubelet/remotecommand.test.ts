import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseProtocol, decodeClientMessage, exitStatusJson, frame } from "./remotecommand.ts";

test("v5 is chosen over v4; older protocols are not served", () => {
  assert.equal(chooseProtocol(["v4.channel.k8s.io", "v5.channel.k8s.io"]), "v5.channel.k8s.io");
  assert.equal(chooseProtocol(["v4.channel.k8s.io", "channel.k8s.io"]), "v4.channel.k8s.io");
  assert.equal(chooseProtocol(["channel.k8s.io", "base64.channel.k8s.io"]), null);
});

test("client messages: stdin data, the v5 close signal, resize", () => {
  assert.deepEqual(decodeClientMessage(Buffer.from([0, 104, 105]), true), { kind: "stdin", data: Buffer.from("hi") });
  assert.deepEqual(decodeClientMessage(Buffer.from([255, 0]), true), { kind: "close", channel: 0 });
  assert.deepEqual(decodeClientMessage(Buffer.from([255, 0]), false), { kind: "ignored" });
  assert.deepEqual(decodeClientMessage(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":80,"Height":24}')]), true), { kind: "resize", width: 80, height: 24 });
  assert.deepEqual(decodeClientMessage(Buffer.alloc(0), true), { kind: "ignored" });
});

test("frames carry the channel byte; the exit status is a metav1.Status", () => {
  assert.deepEqual(frame(1, "ok"), Buffer.from([1, 111, 107]));
  assert.deepEqual(frame(1), Buffer.from([1]));
  assert.deepEqual(JSON.parse(exitStatusJson(["true"], 0)), { metadata: {}, status: "Success" });
  const failed = JSON.parse(exitStatusJson(["sh", "-c", "exit 3"], 3));
  assert.equal(failed.reason, "NonZeroExitCode");
  assert.deepEqual(failed.details.causes, [{ reason: "ExitCode", message: "3" }]);
});
