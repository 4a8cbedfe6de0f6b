import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeRunner, type FakeCall } from "../kernel/fake-runner.ts";
import { collectNode, type DoctorTarget } from "./collect.ts";
import { fakeNode, statusOf } from "./testing.ts";

const dir = mkdtempSync(join(tmpdir(), "weft-doctor-"));
const paths = {
  runDir: join(dir, "run"), socket: join(dir, "run", "agent.sock"), subnetFile: join(dir, "run", "subnet.env"),
  confDir: join(dir, "net.d"), binDir: join(dir, "bin"),
};
const healthy = fakeNode(1, 2);
const status = statusOf(healthy);
const connections = healthy.agent.connections.ok ? healthy.agent.connections.value : [];
let server: Server;

/** Answers like the kernel tools of a healthy node whose path to node2 carries 1400 bytes. */
function kernel(call: FakeCall): { code?: number; stdout?: string; stderr?: string } {
  const cmd = call.argv.join(" ");
  const links = healthy.kernel.links.ok ? healthy.kernel.links.value : [];
  if (cmd === "sysctl -n net.ipv4.ip_forward") return { stdout: "1\n" };
  if (cmd === "ip -d -j addr") return { stdout: JSON.stringify(links) };
  // A ruleset without table ip weft, and Docker's forward chain dropping by policy.
  if (cmd === "nft -j list ruleset") {
    return { stdout: JSON.stringify({ nftables: [{ metainfo: {} }, { table: { family: "ip", name: "filter" } }, { chain: { family: "ip", table: "filter", name: "FORWARD", hook: "forward", policy: "drop" } }] }) };
  }
  if (cmd.startsWith("ip -4 -j route show dev weft.1")) return { stdout: '[{"dst":"10.244.2.0/24","gateway":"10.244.2.0","dev":"weft.1","flags":["onlink"]}]' };
  if (cmd.startsWith("ip ") || cmd.startsWith("bridge ")) return { stdout: "[]" };
  if (call.argv[0] === "env") return { stdout: '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}' };
  if (call.argv[0] === "ping") return { code: Number(call.argv.at(-2)) + 28 <= 1400 ? 0 : 1 };
  return { code: 127, stderr: `unexpected ${cmd}` };
}

const target = (runner: FakeRunner): DoctorTarget => ({ name: "host", nameFromAgent: true, runner, paths, agentLog: "log", onNode: (c) => c });

before(async () => {
  mkdirSync(paths.runDir, { recursive: true });
  mkdirSync(paths.confDir, { recursive: true });
  mkdirSync(paths.binDir, { recursive: true });
  writeFileSync(join(paths.confDir, "10-weft.conflist"), JSON.stringify({ cniVersion: "1.0.0", plugins: [{ type: "weft", subnetFile: paths.subnetFile }] }));
  writeFileSync(join(paths.binDir, "weft"), "#!/bin/sh\n", { mode: 0o755 });
  writeFileSync(paths.subnetFile, "WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.1.1/24\nWEFT_MTU=1450\nWEFT_IPMASQ=true\n");
  const answers: Record<string, [string, string]> = {
    "/healthz": ["text/plain", "ok\n"],
    "/readyz": ["text/plain", "ready\n"],
    "/status": ["application/json", JSON.stringify(status)],
    "/connections": ["application/json", JSON.stringify([{ ...connections[0], mtuOk: false }])],
  };
  server = createServer((req, res) => {
    const [type, body] = answers[req.url ?? ""] ?? ["text/plain", "?"];
    res.writeHead(200, { "content-type": type }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(paths.socket, resolve));
});

after(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("collects the agent, kernel and CNI facts, and the path MTU towards a peer losing full-size packets", async () => {
  const runner = new FakeRunner(kernel);
  const facts = await collectNode(target(runner));
  assert.equal(facts.name, "node1", "the agent's node name replaces the hostname");
  assert.deepEqual(facts.kernel.ipForward, { ok: true, value: "1" });
  assert.deepEqual(facts.kernel.nftTable, { ok: true, value: null });
  assert.deepEqual(facts.kernel.forwardChains, { ok: true, value: [{ family: "ip", table: "filter", name: "FORWARD", policy: "drop", rules: [] }] });
  assert.equal(facts.kernel.vxlan?.ok && facts.kernel.vxlan.value.device, "weft.1");
  assert.equal(facts.kernel.vxlan?.ok && facts.kernel.vxlan.value.routes.length, 1);
  assert.equal(facts.agent.status.ok && facts.agent.status.value.subnet, "10.244.1.0/24");
  assert.deepEqual(facts.pathMtu, { "192.168.125.102": 1400 });
  assert.deepEqual(facts.cni.namedSubnetFile, { path: paths.subnetFile, exists: true });
  assert.equal(facts.cni.plugin.ok && facts.cni.plugin.value.mode & 0o111, 0o111);
  const version = runner.calls.find((c) => c.argv[0] === "env")!;
  assert.deepEqual(version.argv, ["env", "CNI_COMMAND=VERSION", join(paths.binDir, "weft")]);
  assert.equal(version.input, '{"cniVersion":"1.0.0"}');
});

test("a stopped agent: every agent read fails with the same reason, the rest is still read", async () => {
  const facts = await collectNode({ ...target(new FakeRunner(kernel)), paths: { ...paths, socket: join(dir, "nobody.sock") } });
  assert.equal(facts.name, "host");
  for (const read of Object.values(facts.agent)) assert.match(read.ok ? "" : read.error, /cannot reach the weft agent/);
  assert.deepEqual(facts.pathMtu, {});
  assert.ok(facts.kernel.links.ok);
  assert.ok(facts.cni.subnetFile.ok);
});
