import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { POLICY_OFF, startApi } from "./api.ts";
import { fetchAgent } from "./client.ts";
import type { AgentStatus } from "./status.ts";
import type { PolicyStatus } from "../policy/controller.ts";

const MAIN = resolve(import.meta.dirname, "../cli/main.ts");
const dir = mkdtempSync(join(tmpdir(), "weft-api-policy-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const policy: PolicyStatus = {
  node: "n1", strict: true, synced: true, policies: 1, problems: [],
  last: { kind: "full", at: "2026-12-07T01:00:00.000Z", durationMs: 12, compileMs: 2, changes: 30 },
  pods: [{ namespace: "x", name: "a", ips: ["10.244.1.5"], ingress: { isolated: true, policies: ["x/deny"], rules: 1 }, egress: { isolated: false, policies: [], rules: 0 } }],
};

/** Runs the CLI without blocking this process, which serves the API it asks. */
function weft(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--disable-warning=ExperimentalWarning", MAIN, ...args], { encoding: "utf8" }, (err, stdout, stderr) => resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }));
  });
}

test("/policy serves the policy's status; weft status policy prints it as a table or as JSON", async () => {
  const socket = join(dir, "on.sock");
  const api = await startApi({ status: () => ({ node: "n1" }) as AgentStatus, connections: async () => [], policy: () => policy, componentMetrics: async () => "weft_policy_policies 1\n" }, { socketPath: socket });
  try {
    assert.deepEqual(await fetchAgent(socket, "/policy"), policy);
    const table = await weft("status", "policy", "--socket", socket);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /x\/a\s+10\.244\.1\.5\s+isolated\s+open\s+x\/deny/);
    assert.match(table.stdout, /strict: denied flows are cut/);
    const json = await weft("status", "policy", "-o", "json", "--socket", socket);
    assert.deepEqual(JSON.parse(json.stdout), policy);
  } finally {
    await api.close();
  }
});

test("an agent without network policy answers 503 POLICY_OFF, and the CLI says so in one line", async () => {
  const socket = join(dir, "off.sock");
  const api = await startApi({ status: () => ({ node: "n1" }) as AgentStatus, connections: async () => [], policy: () => undefined }, { socketPath: socket });
  try {
    await assert.rejects(fetchAgent(socket, "/policy"), { code: POLICY_OFF });
    const r = await weft("status", "policy", "--socket", socket);
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.match(r.stderr, /network policy does not run on n1.*Kubernetes API/);
  } finally {
    await api.close();
  }
});
