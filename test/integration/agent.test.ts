// The agent end to end: real `weft agent` processes, one per node namespace
// of a throw-away topology (backend-topology.ts), sharing one embedded
// store. Node k's agent is pinned to 10.244.k.0/24 with --subnet-min/max so
// the topology's ready-made pod on that node fits its lease.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
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

/** One agent process and what it logged. */
interface Running {
  child: ChildProcess;
  log: string[];
  exited: Promise<number | null>;
}

describe("weft agent on three nodes sharing one embedded store", { skip }, () => {
  const topo = new Topology("agent");
  const dir = mkdtempSync(join(tmpdir(), "weft-agent-"));
  const storeDir = join(dir, "store");
  const nodes: TopoNode[] = [];
  const agents = new Map<number, Running>();
  let outside = "";

  const runDir = (k: number) => join(dir, `node${k}`, "run");
  const argsFor = (k: number) => [
    "--node-name", `node${k}`, "--store-dir", storeDir, "--run-dir", runDir(k), "--state-dir", join(dir, `node${k}`, "lib"),
    "--subnet-min", `10.244.${k}.0`, "--subnet-max", `10.244.${k}.0`, "--resync-interval", "1",
  ];
  const weftIn = (ns: string, args: string[]) => runIn(ns, [process.execPath, "--disable-warning=ExperimentalWarning", MAIN, ...args]);

  function start(k: number): Running {
    const child = spawn("ip", ["netns", "exec", nodes[k - 1]!.node, process.execPath, "--disable-warning=ExperimentalWarning", MAIN, "agent", ...argsFor(k)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    const log: string[] = [];
    child.stderr!.on("data", (b: Buffer) => log.push(...b.toString().trim().split("\n")));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const running = { child, log, exited };
    agents.set(k, running);
    return running;
  }

  async function stop(k: number, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    const a = agents.get(k)!;
    a.child.kill(signal);
    const code = await a.exited;
    agents.delete(k);
    return code;
  }

  const ready = (k: number) => until(`node${k} ready`, async () => ((await fetchAgent<string>(join(runDir(k), "agent.sock"), "/readyz")) === "ready\n" ? true : undefined), 20_000);
  const status = (k: number) => fetchAgent<AgentStatus>(join(runDir(k), "agent.sock"), "/status");
  const routes = (k: number) => runIn(nodes[k - 1]!.node, ["ip", "route", "show", "dev", "weft.1"]).stdout;
  const neighs = (k: number) => runIn(nodes[k - 1]!.node, ["ip", "neigh", "show", "dev", "weft.1"]).stdout;
  const fdb = (k: number) => runIn(nodes[k - 1]!.node, ["bridge", "fdb", "show", "dev", "weft.1"]).stdout;

  before(async () => {
    topo.addSwitch();
    for (const k of [1, 2, 3]) nodes.push(topo.addNode(k));
    outside = topo.addOutside();
    await topo.startPeerAddressServer(outside, 8080);
    await topo.startPeerAddressServer(nodes[2]!.pod, 8080);
    for (const k of [1, 2, 3]) start(k);
    await Promise.all([1, 2, 3].map(ready));
  });

  after(async () => {
    await Promise.all([...agents.keys()].map((k) => stop(k, "SIGKILL")));
    topo.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test("each node leases its own subnet, writes the subnet file and programs both peers", async () => {
    // Ready means programmed for the peers known then; a peer that leased a
    // moment later arrives through the watch.
    for (const k of [1, 2, 3]) {
      await until(`node${k} to program both peers`, async () => (await status(k)).peers.filter((p) => p.state === "programmed").length === 2, 10_000);
      const s = await status(k);
      assert.equal(s.subnet, `10.244.${k}.0/24`);
      assert.equal(s.ready, true);
      assert.equal(s.mtu, 1450);
      assert.deepEqual(s.peers.map((p) => [p.node, p.state]).sort(), [1, 2, 3].filter((j) => j !== k).map((j) => [`node${j}`, "programmed"]));
      assert.equal(readFileSync(join(runDir(k), "subnet.env"), "utf8"), `WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.${k}.1/24\nWEFT_MTU=1450\nWEFT_IPMASQ=true\n`);
      for (const j of [1, 2, 3].filter((j) => j !== k)) {
        assert.match(routes(k), new RegExp(`10\\.244\\.${j}\\.0/24 via 10\\.244\\.${j}\\.0 onlink`));
        assert.match(neighs(k), new RegExp(`10\\.244\\.${j}\\.0 lladdr 0a:58:0a:f4:0${j}:00 PERMANENT`));
        assert.match(fdb(k), new RegExp(`0a:58:0a:f4:0${j}:00 dst 192\\.168\\.125\\.10${j} self permanent`));
      }
    }
    const leases = await new EmbeddedStore({ dir: storeDir }).list();
    assert.deepEqual(leases.map((l) => [l.attrs.node, l.subnet, l.attrs.publicIp]), [1, 2, 3].map((k) => [`node${k}`, `10.244.${k}.0/24`, `192.168.125.10${k}`]));
  });

  test("pods reach each other across nodes without NAT, and leave the cluster masqueraded", () => {
    assert.ok(pings(nodes[0]!.pod, nodes[2]!.podIp), "pod1 → pod3");
    assert.equal(askPeerAddress(nodes[0]!.pod, nodes[2]!.podIp, 8080), nodes[0]!.podIp, "the server sees the client pod's own IP");
    assert.equal(askPeerAddress(nodes[1]!.pod, "192.168.125.1", 8080), nodes[1]!.ip, "outside sees the node's address");
  });

  test("the pods' flow is tracked on the node, the VXLAN packets carrying it are not", () => {
    assert.equal(askPeerAddress(nodes[0]!.pod, nodes[2]!.podIp, 8080), nodes[0]!.podIp);
    const flows = (args: string[]) => runIn(nodes[0]!.node, ["conntrack", "-L", ...args]).stdout.trim();
    assert.match(flows(["-p", "tcp", "--dport", "8080"]), new RegExp(`src=${nodes[0]!.podIp.replaceAll(".", "\\.")} dst=${nodes[2]!.podIp.replaceAll(".", "\\.")}`));
    assert.equal(flows(["-p", "udp", "--dport", "8472"]), "", "no conntrack entry for the tunnel's UDP packets");
  });

  test("a peer that comes and goes is applied on every node within 1 s", async () => {
    const store = new EmbeddedStore({ dir: storeDir });
    try {
      const attrs = { node: "node9", publicIp: "192.168.125.109", backend: "vxlan", backendData: { vtepMac: "0a:58:0a:f4:09:00" } };
      const t0 = Date.now();
      await store.createIfAbsent("10.244.9.0/24", attrs, 60);
      await until("node9's routes", () => ([1, 2, 3].every((k) => routes(k).includes("10.244.9.0/24")) ? true : undefined), 3000);
      const added = Date.now() - t0;
      const t1 = Date.now();
      await store.release("10.244.9.0/24", "node9");
      await until("node9's routes gone", () => ([1, 2, 3].every((k) => !routes(k).includes("10.244.9.0/24") && !fdb(k).includes("0a:58:0a:f4:09:00")) ? true : undefined), 3000);
      const removed = Date.now() - t1;
      assert.ok(added < 1000, `added in ${added} ms`);
      assert.ok(removed < 1000, `removed in ${removed} ms`);
    } finally {
      await store.close();
    }
  });

  test("a resync puts back a deleted route, neighbour and FDB entry", async () => {
    const ns = nodes[0]!.node;
    runIn(ns, ["ip", "route", "del", "10.244.2.0/24"]);
    runIn(ns, ["ip", "neigh", "del", "10.244.2.0", "dev", "weft.1"]);
    runIn(ns, ["bridge", "fdb", "del", "0a:58:0a:f4:02:00", "dev", "weft.1", "dst", "192.168.125.102"]);
    assert.doesNotMatch(routes(1), /10\.244\.2\.0\/24/);
    await until("the repair", () => (routes(1).includes("10.244.2.0/24") && neighs(1).includes("10.244.2.0 ") && fdb(1).includes("0a:58:0a:f4:02:00") ? true : undefined), 5000);
    assert.ok(pings(nodes[0]!.pod, nodes[1]!.podIp));
  });

  test("a deleted vxlan device is set up again at the next resync", async () => {
    runIn(nodes[0]!.node, ["ip", "link", "del", "weft.1"]);
    await until("weft.1 back with its routes", () => (routes(1).includes("10.244.3.0/24") ? true : undefined), 5000);
    assert.ok(pings(nodes[0]!.pod, nodes[2]!.podIp));
  });

  test("forwarding turned off on a node is logged once, and its return too", async () => {
    const ns = nodes[0]!.node;
    const log = agents.get(1)!.log;
    const said = (text: string) => log.filter((l) => l.includes(text)).length;
    try {
      runIn(ns, ["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
      await until("the agent to notice", () => (said("net.ipv4.ip_forward is 0 on this node") === 1 ? true : undefined), 5000);
    } finally {
      runIn(ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    }
    await until("the agent to notice it is back", () => (said("net.ipv4.ip_forward is on again") === 1 ? true : undefined), 5000);
    assert.equal(said("net.ipv4.ip_forward is 0 on this node"), 1, "once, not at every resync");
    assert.ok(pings(nodes[0]!.pod, nodes[1]!.podIp), "node1 forwards its pod's traffic again");
  });

  test("a killed agent leaves the data plane working and gets its own lease back", async () => {
    assert.equal(await stop(2, "SIGKILL"), null);
    assert.ok(pings(nodes[0]!.pod, nodes[1]!.podIp), "pods still talk with the agent down");
    const again = start(2);
    await ready(2);
    assert.equal((await status(2)).subnet, "10.244.2.0/24");
    assert.ok(again.log.some((l) => l.includes("node2 renewed its lease on 10.244.2.0/24")), again.log.join("\n"));
    assert.equal((await new EmbeddedStore({ dir: storeDir }).list()).length, 3, "no second lease");
  });

  test("SIGTERM stops the agent and leaves the routes, the subnet file and the lease", async () => {
    assert.equal(await stop(3), 0);
    assert.ok(existsSync(join(runDir(3), "subnet.env")));
    assert.match(routes(3), /10\.244\.1\.0\/24/);
    assert.ok(pings(nodes[2]!.pod, nodes[0]!.podIp));
    start(3);
    await ready(3);
  });

  test("an exhausted range stops the agent with the reason and the fix", () => {
    const r = weftIn(nodes[0]!.node, ["agent", ...argsFor(1), "--node-name", "node7", "--run-dir", join(dir, "node7")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^weft: cannot lease a subnet: 10\.244\.0\.0\/16 has no free \/24 left between 10\.244\.1\.0 and 10\.244\.1\.0 \(3 nodes hold leases, 1 subnets in all\); use a larger --pod-cidr/m);
  });

  test("--cleanup refuses while the agent runs, then removes what it made and frees the subnet", async () => {
    const refused = weftIn(nodes[2]!.node, ["agent", ...argsFor(3), "--cleanup"]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /an agent is running on/);
    await stop(3);
    // As network policy leaves it on a node with a Kubernetes API.
    assert.equal(runIn(nodes[2]!.node, ["nft", "add", "table", "inet", "weft-policy"]).status, 0);
    const r = weftIn(nodes[2]!.node, ["agent", ...argsFor(3), "--cleanup"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(runIn(nodes[2]!.node, ["ip", "link", "show", "weft.1"]).status, 1, "device gone");
    assert.equal(runIn(nodes[2]!.node, ["nft", "list", "table", "ip", "weft"]).status, 1, "table gone");
    assert.equal(runIn(nodes[2]!.node, ["nft", "list", "table", "inet", "weft-policy"]).status, 1, "policy table gone");
    assert.equal(existsSync(join(runDir(3), "subnet.env")), false);
    await until("peers to drop node3", () => (!routes(1).includes("10.244.3.0/24") && !routes(2).includes("10.244.3.0/24") ? true : undefined), 3000);
    assert.deepEqual((await new EmbeddedStore({ dir: storeDir }).list()).map((l) => l.attrs.node), ["node1", "node2"]);
  });
});
