import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AGENT_UNREACHABLE, fetchAgent } from "./client.ts";

const dir = mkdtempSync(join(tmpdir(), "weft-client-"));
const socket = join(dir, "agent.sock");
let server: Server;

before(async () => {
  server = createServer((req, res) => {
    const answers: Record<string, [number, string, string]> = {
      "/json": [200, "application/json", '{"node":"node1"}'],
      "/text": [503, "text/plain; charset=utf-8", "not ready: lease\n"],
      "/error": [500, "application/json", '{"code":"IPAM_STORE_INVALID","message":"IPAM store /x is not valid","hint":"move it aside"}'],
      "/garbage": [200, "application/json", "{"],
    };
    const [status, type, body] = answers[req.url ?? ""] ?? [404, "application/json", '{"code":"NOT_FOUND","message":"no such route"}'];
    res.writeHead(status, { "content-type": type }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

test("JSON answers are parsed; text answers come back as text whatever their status", async () => {
  assert.deepEqual(await fetchAgent(socket, "/json"), { node: "node1" });
  assert.equal(await fetchAgent(socket, "/text"), "not ready: lease\n");
});

test("the agent's JSON errors become WeftErrors with its code and hint", async () => {
  await assert.rejects(fetchAgent(socket, "/error"), { name: "WeftError", code: "IPAM_STORE_INVALID", message: "IPAM store /x is not valid", hint: "move it aside" });
  await assert.rejects(fetchAgent(socket, "/nope"), { code: "NOT_FOUND", message: "no such route" });
  await assert.rejects(fetchAgent(socket, "/garbage"), { code: "AGENT_BAD_ANSWER", message: new RegExp(`^the weft agent at ${socket} sent invalid JSON for /garbage`) });
});

test("a missing socket and a dead one are AGENT_UNREACHABLE with what to do", async () => {
  const missing = join(dir, "missing.sock");
  await assert.rejects(fetchAgent(missing, "/status"), {
    code: AGENT_UNREACHABLE,
    message: `cannot reach the weft agent at ${missing} (connect ENOENT)`,
    hint: 'is it running? start it with "weft agent", or point at it with --run-dir/--socket',
  });
  // A socket file nobody listens on, as a killed agent leaves it.
  const dead = join(dir, "dead.sock");
  const script = `require("net").createServer().listen(${JSON.stringify(dead)}, () => process.kill(process.pid, "SIGKILL"))`;
  spawnSync(process.execPath, ["-e", script]);
  await assert.rejects(fetchAgent(dead, "/status"), { code: AGENT_UNREACHABLE, message: `cannot reach the weft agent at ${dead} (connect ECONNREFUSED)` });
});
