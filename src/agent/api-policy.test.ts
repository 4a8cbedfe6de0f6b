import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { request } from "node:http";
import { BAD_QUERY, POLICY_OFF, startApi } from "./api.ts";
import type { ExplainQuery, Explanation } from "../policy/explain.ts";
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

/** A raw HTTP request on the socket (fetchAgent GETs only). */
function post(socketPath: string, path: string, body: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("/policy/explain passes a checked query to the policy and answers its explanation; bad queries are 400 BAD_QUERY naming the parameter", async () => {
  const socket = join(dir, "explain.sock");
  const asked: ExplainQuery[] = [];
  const answer: Explanation = { self: false, allowed: true, egress: null, ingress: null };
  const api = await startApi({ status: () => ({ node: "n1" }) as AgentStatus, connections: async () => [], policyExplain: (q) => (asked.push(q), answer) }, { socketPath: socket });
  try {
    assert.deepEqual(await fetchAgent(socket, "/policy/explain?from=10.244.1.2&to=10.244.2.3&protocol=udp&port=53"), answer);
    assert.deepEqual(await fetchAgent(socket, "/policy/explain?from=10.244.1.2&to=10.244.2.3&port=80"), answer);
    assert.deepEqual(await fetchAgent(socket, "/policy/explain?from=10.244.1.2&to=10.244.2.3"), answer);
    assert.deepEqual(asked, [
      { src: "10.244.1.2", dst: "10.244.2.3", protocol: "UDP", port: 53 },
      { src: "10.244.1.2", dst: "10.244.2.3", protocol: "TCP", port: 80 },
      { src: "10.244.1.2", dst: "10.244.2.3" },
    ]);
    for (const [query, says] of [["from=a&to=10.0.0.1", /from="a"/], ["from=10.0.0.1", /to=""/], ["from=10.0.0.1&to=10.0.0.2&port=0", /port="0"/], ["from=10.0.0.1&to=10.0.0.2&protocol=icmp", /protocol="icmp"/]] as const) {
      await assert.rejects(fetchAgent(socket, `/policy/explain?${query}`), (e: Error & { code?: string }) => e.code === BAD_QUERY && says.test(e.message), query);
    }
    assert.equal(asked.length, 3);
  } finally {
    await api.close();
  }
});

test("POST /policy/pods hands the pod's address to the policy and answers when it has programmed it; GET is 405, a bad body 400", async () => {
  const socket = join(dir, "pods.sock");
  const added: unknown[] = [];
  const api = await startApi({ status: () => ({ node: "n1" }) as AgentStatus, connections: async () => [], policyPodAdded: async (p) => (added.push(p), { programmed: true, isolated: { ingress: true, egress: false } }) }, { socketPath: socket });
  const off = await startApi({ status: () => ({ node: "n2" }) as AgentStatus, connections: async () => [], policyPodAdded: () => undefined }, { socketPath: join(dir, "pods-off.sock") });
  try {
    const r = await post(socket, "/policy/pods", JSON.stringify({ namespace: "x", name: "a", ip: "10.244.1.9" }));
    assert.deepEqual(r, { status: 200, body: { programmed: true, isolated: { ingress: true, egress: false } } });
    assert.deepEqual(added, [{ namespace: "x", name: "a", ip: "10.244.1.9" }]);
    for (const body of ["{", JSON.stringify({ namespace: "x", name: "a" }), JSON.stringify({ namespace: "x", name: "a", ip: "fe80::1" })]) {
      const bad = await post(socket, "/policy/pods", body);
      assert.deepEqual([bad.status, bad.body.code], [400, BAD_QUERY], body);
    }
    assert.equal(added.length, 1);
    await assert.rejects(fetchAgent(socket, "/policy/pods"), { code: "METHOD_NOT_ALLOWED" });
    const o = await post(join(dir, "pods-off.sock"), "/policy/pods", JSON.stringify({ namespace: "x", name: "a", ip: "10.244.1.9" }));
    assert.deepEqual([o.status, o.body.code], [503, POLICY_OFF]);
  } finally {
    await api.close();
    await off.close();
  }
});
