// Agents with the host-gw backend: routes to each peer's subnet via the
// peer's own underlay address, and a peer that is not on our segment is
// refused with a pointer to vxlan while the others keep working.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fetchAgent } from "../../src/agent/client.ts";
import type { AgentStatus } from "../../src/agent/status.ts";
import { EmbeddedStore } from "../../src/store/embedded/store.ts";
import { askPeerAddress, pings, Topology, type TopoNode } from "./backend-topology.ts";
import { runIn } from "../support/netns.ts";
import { until } from "../support/until.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;
const MAIN = resolve(import.meta.dirname, "../../src/cli/main.ts");

describe("weft agent with host-gw", { skip }, () => {
  const topo = new Topology("aghgw");
  const dir = mkdtempSync(join(tmpdir(), "weft-agent-hostgw-"));
  const storeDir = join(dir, "store");
  const nodes: TopoNode[] = [];
  const children: ChildProcess[] = [];
  const runDir = (k: number) => join(dir, `node${k}`, "run");
  const status = (k: number) => fetchAgent<AgentStatus>(join(runDir(k), "agent.sock"), "/status");

  before(async () => {
    topo.addSwitch();
    for (const k of [1, 2]) nodes.push(topo.addNode(k));
    await topo.startPeerAddressServer(nodes[1]!.pod, 8080);
    for (const k of [1, 2]) {
      children.push(spawn("ip", ["netns", "exec", nodes[k - 1]!.node, process.execPath, "--disable-warning=ExperimentalWarning", MAIN, "agent",
        "--node-name", `node${k}`, "--backend", "host-gw", "--store-dir", storeDir, "--run-dir", runDir(k), "--state-dir", join(dir, `node${k}`, "lib"),
        "--subnet-min", `10.244.${k}.0`, "--subnet-max", `10.244.${k}.0`, "--no-ip-masq"], { stdio: "ignore" }));
    }
    for (const k of [1, 2]) await until(`node${k} ready`, async () => (await status(k)).ready, 30_000);
  });

  after(() => {
    for (const c of children) c.kill("SIGKILL");
    topo.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test("each node routes the other's subnet via its underlay address, at full MTU, without NAT", async () => {
    assert.match(runIn(nodes[0]!.node, ["ip", "route", "show", "proto", "87"]).stdout, /^10\.244\.2\.0\/24 via 192\.168\.125\.102 dev eth0/m);
    assert.equal((await status(1)).mtu, 1500);
    assert.ok(pings(nodes[0]!.pod, nodes[1]!.podIp));
    assert.equal(askPeerAddress(nodes[0]!.pod, nodes[1]!.podIp, 8080), nodes[0]!.podIp);
  });

  test("a peer on another segment is refused with a pointer to vxlan; the others stay programmed", async () => {
    const store = new EmbeddedStore({ dir: storeDir });
    try {
      await store.createIfAbsent("10.244.7.0/24", { node: "far", publicIp: "10.9.9.9", backend: "host-gw", backendData: {} }, 60);
      await until("the refusal", async () => (await status(1)).peers.some((p) => p.node === "far" && p.state === "problem"), 5000);
      const far = (await status(1)).peers.find((p) => p.node === "far")!;
      assert.equal(far.problem?.code, "PEER_NOT_ADJACENT");
      assert.match(far.problem?.message ?? "", /vxlan/);
      assert.equal((await status(1)).peers.find((p) => p.node === "node2")?.state, "programmed");
      assert.doesNotMatch(runIn(nodes[0]!.node, ["ip", "route", "show", "proto", "87"]).stdout, /10\.244\.7\.0/);
      assert.ok(pings(nodes[0]!.pod, nodes[1]!.podIp));
    } finally {
      await store.close();
    }
  });
});
