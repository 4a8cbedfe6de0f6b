/**
 * `weft agent --service-proxy`: the real agent in a node namespace, leasing
 * from an embedded store, with its service proxy fed by a stand-in API
 * server in the same namespace (test/support/fake-kube-api-main.ts); a pod
 * on the node reaches a Service's backends, and the proxy's metrics are in
 * the agent's /metrics.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fetchAgent } from "../../src/agent/client.ts";
import { backends, ProxyLab } from "./proxy-topology.ts";
import { until } from "../support/until.ts";
import { runIn } from "../support/netns.ts";

const MAIN = resolve(import.meta.dirname, "../../src/cli/main.ts");
const FAKE_API = resolve(import.meta.dirname, "../support/fake-kube-api-main.ts");

describe("weft agent --service-proxy", { timeout: 90_000 }, () => {
  let lab: ProxyLab;
  let client: string;
  const dir = mkdtempSync(join(tmpdir(), "weft-agent-proxy-"));
  const children: ChildProcess[] = [];
  const log: string[] = [];
  const socket = join(dir, "run", "agent.sock");
  let agent: ChildProcess;
  let agentArgs: string[];

  before(async () => {
    lab = new ProxyLab("agent");
    client = lab.addPod(2);
    for (const k of [10, 11]) await lab.serve(lab.addPod(k), `b${k}`, [8080]);
    const lists = {
      services: [{ metadata: { namespace: "default", name: "web", resourceVersion: "1" }, spec: { clusterIP: "10.96.0.50", ports: [{ name: "http", port: 80, targetPort: 8080 }] } }],
      endpointslices: [{
        metadata: { namespace: "default", name: "web-a", resourceVersion: "2", labels: { "kubernetes.io/service-name": "web" } },
        addressType: "IPv4", endpoints: [{ addresses: ["10.244.1.10"], nodeName: "node1" }, { addresses: ["10.244.1.11"], nodeName: "node1" }], ports: [{ name: "http", port: 8080 }],
      }],
    };
    const kubeconfig = join(dir, "kubeconfig");
    const api = spawn("ip", ["netns", "exec", lab.node, process.execPath, FAKE_API, kubeconfig, JSON.stringify(lists)], { stdio: ["pipe", "pipe", "inherit"] });
    children.push(api);
    await new Promise<void>((r, reject) => {
      api.once("exit", (c) => reject(new Error(`stand-in API server exited ${c}`)));
      createInterface({ input: api.stdout! }).once("line", () => r());
    });
    agentArgs = [
      "--node-name", "node1", "--store", "embedded", "--store-dir", join(dir, "store"), "--run-dir", join(dir, "run"), "--state-dir", join(dir, "lib"),
      "--subnet-min", "10.244.1.0", "--subnet-max", "10.244.1.0", "--backend", "host-gw", "--iface", "eth0",
      "--service-proxy", "--kubeconfig", kubeconfig,
    ];
    agent = spawn("ip", ["netns", "exec", lab.node, process.execPath, "--disable-warning=ExperimentalWarning", MAIN, "agent", ...agentArgs], { stdio: ["ignore", "ignore", "pipe"] });
    children.push(agent);
    agent.stderr!.on("data", (b: Buffer) => log.push(...b.toString().trim().split("\n")));
  });
  after(async () => {
    for (const c of children.reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGTERM");
      await exited;
    }
    await lab.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a pod reaches the Service's backends, and /metrics carries the proxy's families", async () => {
    await until("the agent's service proxy to sync", async () => /weft_proxy_syncs_total\{kind="full"\} [1-9]/.test(await fetchAgent<string>(socket, "/metrics")), 30_000, 100).catch((err) => {
      throw new Error(`${(err as Error).message}; agent log:\n${log.join("\n")}`);
    });
    const t = await lab.probe(client, "tcp", "10.96.0.50", 80, 40);
    assert.deepEqual([...backends(t).names].sort(), ["b10", "b11"]);
    const metrics = await fetchAgent<string>(socket, "/metrics");
    assert.match(metrics, /^weft_ready 1$/m, "the agent's own families are still there");
    assert.match(metrics, /^weft_proxy_programmed_endpoints 2$/m);
  });

  test("weft status services lists the programmed port, its endpoints and what clients get", async () => {
    const r = spawnSync(process.execPath, ["--disable-warning=ExperimentalWarning", MAIN, "status", "services", "--socket", socket], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^SERVICE\s+PROTO\s+DESTINATIONS\s+ENDPOINTS\s+LOCAL\s+CLIENTS GET$/m);
    assert.match(r.stdout, /^default\/web:http\s+TCP\s+10\.96\.0\.50:80\s+2\s+2\s+FORWARD$/m);
    assert.match(r.stdout, /last sync (full|partial) at /);
    const json = JSON.parse(spawnSync(process.execPath, ["--disable-warning=ExperimentalWarning", MAIN, "status", "services", "--socket", socket, "-o", "json"], { encoding: "utf8" }).stdout);
    assert.equal(json.synced, true);
    assert.deepEqual(json.ports.map((p: { endpoints: string[] }) => p.endpoints.sort()), [["10.244.1.10:8080", "10.244.1.11:8080"]]);
  });

  test("the Service keeps working while the agent is stopped; --cleanup removes the proxy's table", async () => {
    const exited = new Promise((r) => agent.once("exit", r));
    agent.kill("SIGTERM");
    await exited;
    const t = await lab.probe(client, "tcp", "10.96.0.50", 80, 10);
    assert.deepEqual(t.errors, {});
    const r = runIn(lab.node, [process.execPath, "--disable-warning=ExperimentalWarning", MAIN, "agent", ...agentArgs, "--cleanup"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /removed the nftables table ip weft-proxy/);
    assert.notEqual(runIn(lab.node, ["nft", "list", "table", "ip", "weft-proxy"]).status, 0, "table gone");
  });
});
