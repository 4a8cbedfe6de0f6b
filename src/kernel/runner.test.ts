import { test } from "node:test";
import assert from "node:assert/strict";
import { createRunner, inNetns, isAbsent, KERNEL_COMMAND_FAILED, KERNEL_TOOL_MISSING, readJson, run } from "./runner.ts";

test("a namespace is entered by the child: ip and bridge take -n, others ip netns exec", () => {
  assert.deepEqual(inNetns(undefined, ["nft", "-f", "-"]), ["nft", "-f", "-"]);
  assert.deepEqual(inNetns("n1", ["ip", "-j", "addr"]), ["ip", "-n", "n1", "-j", "addr"]);
  assert.deepEqual(inNetns("n1", ["bridge", "-j", "fdb", "show"]), ["bridge", "-n", "n1", "-j", "fdb", "show"]);
  assert.deepEqual(inNetns("n1", ["nft", "-f", "-"]), ["ip", "netns", "exec", "n1", "nft", "-f", "-"]);
});

test("exec feeds stdin and returns the exit status without throwing", async () => {
  const runner = createRunner();
  assert.deepEqual(await runner.exec(["cat"], "hello"), { code: 0, stdout: "hello", stderr: "" });
  const r = await runner.exec(["sh", "-c", "echo oops >&2; exit 3"]);
  assert.equal(r.code, 3);
  assert.equal(r.stderr, "oops\n");
});

test("run throws KERNEL_COMMAND_FAILED with the command and its stderr", async () => {
  await assert.rejects(run(createRunner(), ["sh", "-c", "echo 'Cannot find device \"weft.9\"' >&2; exit 1"]), (err: Error & { code?: string }) => {
    assert.equal(err.code, KERNEL_COMMAND_FAILED);
    assert.match(err.message, /^"sh -c .*" failed: Cannot find device "weft.9"$/);
    assert.ok(isAbsent(err.message));
    return true;
  });
});

test("a missing tool is KERNEL_TOOL_MISSING", async () => {
  await assert.rejects(createRunner().exec(["weft-no-such-tool"]), { code: KERNEL_TOOL_MISSING });
});

test("readJson parses, and reads no output as an empty list", async () => {
  assert.deepEqual(await readJson(createRunner(), ["echo", '[{"dst":"default"}]']), [{ dst: "default" }]);
  assert.deepEqual(await readJson(createRunner(), ["true"]), []);
});
