// Agents on a real etcd (Debian's etcd-server) that runs in the topology's
// outside namespace: leases through etcd, then etcd going away and coming
// back while the data plane carries on.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fetchAgent } from "../../src/agent/client.ts";
import type { AgentStatus } from "../../src/agent/status.ts";
import { pings, Topology, type TopoNode } from "./backend-topology.ts";
import { until } from "../support/until.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;
const MAIN = resolve(import.meta.dirname, "../../src/cli/main.ts");
const ETCD = "http://192.168.125.1:2379";

describe("weft agent on etcd, with etcd down and back", { skip }, () => {
  const topo = new Topology("agetcd");
  const dir = mkdtempSync(join(tmpdir(), "weft-agent-etcd-"));
  const nodes: TopoNode[] = [];
  const children: ChildProcess[] = [];
  const logs = new Map<number, string[]>();
  let outside = "";
  let etcd: ChildProcess | undefined;

  const runDir = (k: number) => join(dir, `node${k}`, "run");
  const status = (k: number) => fetchAgent<AgentStatus>(join(runDir(k), "agent.sock"), "/status");

  function startEtcd(): void {
    const peer = "http://127.0.0.1:2380";
    etcd = spawn("ip", ["netns", "exec", outside, "etcd", "--name", "t", "--data-dir", join(dir, "etcd"),
      "--listen-client-urls", ETCD, "--advertise-client-urls", ETCD,
      "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", `t=${peer}`], { stdio: "ignore" });
    children.push(etcd);
  }

  async function stopEtcd(): Promise<void> {
    const e = etcd!;
    const gone = new Promise((r) => e.once("exit", r));
    e.kill("SIGKILL");
    await gone;
  }

  before(async () => {
    topo.addSwitch();
    for (const k of [1, 2]) nodes.push(topo.addNode(k));
    outside = topo.addOutside();
    startEtcd();
    for (const k of [1, 2]) {
      const log: string[] = [];
      logs.set(k, log);
      const child = spawn("ip", ["netns", "exec", nodes[k - 1]!.node, process.execPath, "--disable-warning=ExperimentalWarning", MAIN, "agent",
        "--node-name", `node${k}`, "--store", "etcd", "--etcd-endpoints", ETCD, "--run-dir", runDir(k), "--state-dir", join(dir, `node${k}`, "lib"),
        "--subnet-min", `10.244.${k}.0`, "--subnet-max", `10.244.${k}.0`, "--resync-interval", "1"], { stdio: ["ignore", "ignore", "pipe"] });
      child.stderr!.on("data", (b: Buffer) => log.push(...b.toString().trim().split("\n")));
      children.push(child);
    }
    for (const k of [1, 2]) await until(`node${k} ready`, async () => ((await status(k)).ready ? true : undefined), 30_000);
  });

  after(() => {
    for (const c of children) c.kill("SIGKILL");
    topo.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test("both nodes lease through etcd and reach each other's pods", async () => {
    assert.deepEqual((await status(1)).peers.map((p) => [p.node, p.subnet, p.state]), [["node2", "10.244.2.0/24", "programmed"]]);
    assert.ok(pings(nodes[0]!.pod, nodes[1]!.podIp));
  });

  test("with etcd gone the routes stay and each agent logs one line; when it returns they recover with the same leases", async () => {
    // Only what is logged from the stop on counts: an agent that started before etcd listened logged
    // its own "unavailable" and "back" then (the start-up is raced on purpose: the agent retries).
    const mark = logs.get(1)!.length;
    const since = () => logs.get(1)!.slice(mark);
    await stopEtcd();
    await until("node1 to notice", async () => ((await status(1)).store.healthy ? undefined : true), 15_000);
    await new Promise((r) => setTimeout(r, 2500)); // several retries' worth
    const down = since().filter((l) => / is unavailable while /.test(l));
    assert.equal(down.length, 1, logs.get(1)!.join("\n"));
    assert.match(down[0]!, /etcd store http:\/\/192\.168\.125\.1:2379 is unavailable while .*; keeping the current routes and retrying with backoff/);
    assert.match((await status(1)).store.lastError ?? "", /unavailable/);
    assert.ok(pings(nodes[0]!.pod, nodes[1]!.podIp), "pods still talk while the store is down");

    startEtcd();
    for (const k of [1, 2]) await until(`node${k} to see etcd back`, async () => ((await status(k)).store.healthy ? true : undefined), 20_000);
    assert.ok(since().some((l) => l.endsWith("etcd store http://192.168.125.1:2379 is back")));
    for (const k of [1, 2]) {
      const s = await status(k);
      assert.equal(s.subnet, `10.244.${k}.0/24`);
      assert.deepEqual(s.peers.map((p) => p.subnet), [`10.244.${3 - k}.0/24`], "one lease per node, no duplicate");
    }
    assert.ok(pings(nodes[1]!.pod, nodes[0]!.podIp));
  });
});
