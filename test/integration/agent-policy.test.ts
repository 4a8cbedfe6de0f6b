/**
 * `weft agent` with network policy: the real agent in a node namespace
 * (embedded store, host-gw), given a kubeconfig for a stand-in API server in
 * the same namespace (test/support/policy-kube-api-main.ts) that lists two
 * pods on the node and a policy isolating one of them. Policy is on by
 * default there; the pod is cut off, `weft status policy` shows why, and
 * /metrics carries the policy's families. With --no-network-policy the agent
 * leaves the table alone.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fetchAgent } from "../../src/agent/client.ts";
import { PolicyLab, type LabPod } from "./policy-topology.ts";
import { runIn } from "../support/netns.ts";
import { until } from "../support/until.ts";

const MAIN = resolve(import.meta.dirname, "../../src/cli/main.ts");
const FAKE_API = resolve(import.meta.dirname, "../support/policy-kube-api-main.ts");

describe("weft agent with network policy (default on with a Kubernetes API)", { timeout: 90_000 }, () => {
  let lab: PolicyLab;
  let client: LabPod;
  let server: LabPod;
  const dir = mkdtempSync(join(tmpdir(), "weft-agent-policy-"));
  const children: ChildProcess[] = [];
  const log: string[] = [];

  const startAgent = (name: string, extra: string[]) => {
    const agent = spawn("ip", ["netns", "exec", lab.nodeNs.n1, process.execPath, "--disable-warning=ExperimentalWarning", MAIN, "agent",
      "--node-name", "n1", "--store", "embedded", "--store-dir", join(dir, name, "store"), "--run-dir", join(dir, name, "run"), "--state-dir", join(dir, name, "lib"),
      "--subnet-min", "10.244.1.0", "--subnet-max", "10.244.1.0", "--backend", "host-gw", "--iface", "eth0", "--kubeconfig", join(dir, "kubeconfig"), ...extra,
    ], { stdio: ["ignore", "ignore", "pipe"] });
    children.push(agent);
    agent.stderr!.on("data", (b: Buffer) => log.push(...b.toString().trim().split("\n")));
    return agent;
  };
  const stopAgent = async (c: ChildProcess) => {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    await exited;
  };

  before(async () => {
    lab = new PolicyLab("agent");
    client = lab.addPod("n1", "client");
    server = lab.addPod("n1", "server");
    await lab.serve(server, "server", [80]);
    const pod = (name: string, ip: string) => ({ metadata: { namespace: "x", name, labels: { app: name } }, spec: { nodeName: "n1", containers: [{ name: "c", image: "none" }] }, status: { phase: "Running", podIP: ip, podIPs: [{ ip }] } });
    const lists = {
      namespaces: [{ metadata: { name: "x", labels: { "kubernetes.io/metadata.name": "x" } } }],
      pods: [pod("client", client.ip), pod("server", server.ip)],
      networkpolicies: [{ metadata: { namespace: "x", name: "isolate-server" }, spec: { podSelector: { matchLabels: { app: "server" } }, policyTypes: ["Ingress"] } }],
    };
    const api = spawn("ip", ["netns", "exec", lab.nodeNs.n1, process.execPath, FAKE_API, join(dir, "kubeconfig"), JSON.stringify(lists)], { stdio: ["pipe", "pipe", "inherit"] });
    children.push(api);
    await new Promise<void>((r, reject) => {
      api.once("exit", (c) => reject(new Error(`stand-in API server exited ${c}`)));
      createInterface({ input: api.stdout! }).once("line", () => r());
    });
  });
  after(async () => {
    try {
      for (const c of children.reverse()) await stopAgent(c);
    } finally {
      await lab.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("--no-network-policy: the agent runs and programs no policy table", async () => {
    const agent = startAgent("off", ["--no-network-policy"]);
    const socket = join(dir, "off", "run", "agent.sock");
    await until("the agent to be ready", async () => (await fetchAgent<string>(socket, "/readyz")) === "ready\n", 30_000, 100);
    await assert.rejects(fetchAgent(socket, "/policy"), { code: "POLICY_OFF" });
    assert.equal(runIn(lab.nodeNs.n1, ["nft", "list", "table", "inet", "weft-policy"]).status, 1);
    assert.deepEqual(Object.values(await lab.probe(client, 1000, [`tcp:${server.ip}:80`])), [true]);
    await stopAgent(agent);
  });

  test("default: the selected pod is isolated; status policy and /metrics show it", async () => {
    startAgent("on", []);
    const socket = join(dir, "on", "run", "agent.sock");
    await until("the agent's policy to sync", async () => (await fetchAgent<{ synced: boolean }>(socket, "/policy")).synced, 30_000, 100).catch((err) => {
      throw new Error(`${(err as Error).message}; agent log:\n${log.join("\n")}`);
    });
    assert.deepEqual(Object.values(await lab.probe(client, 800, [`tcp:${server.ip}:80`])), [false]);
    const status = spawnSync(process.execPath, ["--disable-warning=ExperimentalWarning", MAIN, "status", "policy", "--socket", socket], { encoding: "utf8" });
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`x/server\\s+${server.ip.replace(/\./g, "\\.")}\\s+isolated\\s+open\\s+x/isolate-server`));
    assert.match(status.stdout, /x\/client\s+\S+\s+open\s+open\s+-/);
    const metrics = await fetchAgent<string>(socket, "/metrics");
    assert.match(metrics, /^weft_ready 1$/m, "the agent's own families are still there");
    assert.match(metrics, /^weft_policy_isolated_pods\{direction="ingress"\} 1$/m);
    assert.match(metrics, /^weft_policy_dropped_packets_total\{direction="ingress"\} [1-9]/m);

    // weft doctor on the node: the table matches, and the server is isolated with nothing allowed in.
    const doctor = spawnSync("ip", ["netns", "exec", lab.nodeNs.n1, process.execPath, "--disable-warning=ExperimentalWarning", MAIN, "doctor", "--run-dir", join(dir, "on", "run"), "-o", "json"], { encoding: "utf8" });
    const finding = (JSON.parse(doctor.stdout) as { check: string; status: string; message: string }[]).find((f) => f.check === "policy");
    assert.equal(finding?.status, "warn", doctor.stdout);
    assert.match(finding!.message, /table inet weft-policy matches: 2 pods, 1 isolated, 1 policies; isolated with no rule allowing anything: x\/server \(ingress: x\/isolate-server\)/);
  });
});
