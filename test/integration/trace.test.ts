// `weft trace` against real kernel state: a vxlan lab run by the real agents
// (complete paths across nodes and on one node, JSON, a broken host veth,
// usage errors), and a host-gw lab whose routes this test programs itself
// with the backend (the stand-in agents only write subnet files), so a
// deleted route stays deleted while it is traced.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { HostGwBackend } from "../../src/backend/hostgw/hostgw.ts";
import { ensureMasquerade } from "../../src/agent/masquerade.ts";
import { createRunner, run } from "../../src/kernel/runner.ts";
import { labLayout, nodePaths } from "../../src/lab/layout.ts";
import { readLabState } from "../../src/lab/state.ts";
import { REAL_AGENT, uniqueLabName, weft, weftOk } from "../../src/lab/testing.ts";
import { formatPrefix } from "../../src/lib/ipv4.ts";
import { readSubnetFile } from "../../src/subnet/file.ts";
import type { TraceReport } from "../../src/trace/path.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

/** Runs pods a and b on node1 and c on node2. */
async function runPods(name: string): Promise<void> {
  for (const [pod, node] of [["a", "node1"], ["b", "node1"], ["c", "node2"]] as const) {
    await weftOk(["lab", "run", pod, "--name", name, "--node", node, "--", "sleep", "1000"]);
  }
}

const trace = async (name: string, from: string, to: string) => {
  const r = await weft(["trace", from, to, "--lab", name, "-o", "json"]);
  return { code: r.code, report: JSON.parse(r.stdout || "null") as TraceReport, stderr: r.stderr };
};

describe("weft trace on a vxlan lab with real agents", { skip, timeout: 60_000 }, () => {
  const name = uniqueLabName("trv");
  before(async () => {
    await weftOk(["lab", "up", "--no-kubernetes", "--name", name, "--nodes", "2"], REAL_AGENT);
    await runPods(name);
  });
  after(() => weft(["lab", "down", "--name", name]));

  test("across nodes: 17 hops, all ok, exit 0", async () => {
    const r = await weft(["trace", "a", "c", "--lab", name]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^trace pod a \(10\.244\.\d+\.\d+\) → pod c \(10\.244\.\d+\.\d+\): node1 → node2, lab \S+, backend vxlan\n/);
    assert.match(r.stdout, /✓ +8 +node1 +neighbour +10\.244\.\d+\.0 lladdr 0a:58:(\w\w:){3}00 PERMANENT on weft\.1 \(node2's VTEP\)\n/);
    assert.match(r.stdout, /✓ +9 +node1 +fdb +0a:58:\S+ → dst 192\.168\.125\.102 on weft\.1 \(node2\)\n/);
    assert.match(r.stdout, /\npath complete: 17 hops from pod a to pod c\n$/);
    assert.doesNotMatch(r.stdout, /✗|\?  /);
  });

  test("on one node: six hops over the bridge", async () => {
    const { code, report } = await trace(name, "a", "b");
    assert.equal(code, 0);
    assert.deepEqual(report.hops.map((h) => `${h.status} ${h.at} ${h.what}`), [
      "ok pod a eth0", "ok pod a route", "ok node1 veth of pod a", "ok node1 bridge weft0", "ok node1 veth of pod b", "ok pod b eth0",
    ]);
    assert.equal(report.sameNode, true);
  });

  test("a host veth set down breaks the path there, with the command that fixes it", async () => {
    const { report } = await trace(name, "a", "c");
    const veth = /^(veth\w+) /.exec(report.hops.find((h) => h.what === "veth of pod c")!.found)![1]!;
    const node2 = createRunner(`${name}-node2`);
    await run(node2, ["ip", "link", "set", veth, "down"]);
    try {
      const broken = await trace(name, "a", "c");
      assert.equal(broken.code, 1);
      const hop = broken.report.hops[broken.report.brokenAt! - 1]!;
      assert.deepEqual([hop.at, hop.what, hop.status], ["node2", "veth of pod c", "broken"]);
      assert.equal(hop.fix, `ip -n ${name}-node2 link set ${veth} up`);
      const text = await weft(["trace", "a", "c", "--lab", name]);
      assert.match(text.stdout, /\npath broken at hop 16 \(node2 veth of pod c\)/);
    } finally {
      await run(node2, ["ip", "link", "set", veth, "up"]);
    }
    assert.equal((await trace(name, "a", "c")).code, 0);
  });

  test("usage errors are one line on stderr", async () => {
    for (const [args, message] of [
      [["a", "zz", "--lab", name], /^weft: lab \S+ has no pod "zz"; run weft lab pods --name \S+ for its pods\n$/],
      [["a", "--lab", name], /^weft: trace: expected POD-A POD-B\[:PORT\[\/PROTO\]\] or POD SERVICE\[:PORT\], got a; run "weft trace --help"\n$/],
      [["a", "a", "--lab", name], /^weft: trace: a to itself is no path; name two different pods\n$/],
      [["a", "c", "--lab", "nosuchlab"], /^weft: lab nosuchlab is not up; run weft lab up --name nosuchlab\n$/],
    ] as const) {
      const r = await weft(["trace", ...args]);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.stderr, message);
    }
  });
});

describe("weft trace on a host-gw lab", { skip, timeout: 60_000 }, () => {
  const name = uniqueLabName("trh");
  const lab = labLayout(name);
  let subnet2: string;
  before(async () => {
    await weftOk(["lab", "up", "--no-kubernetes", "--name", name, "--nodes", "2", "--backend", "host-gw"]);
    const state = readLabState(lab);
    const nodes = state.nodes.map((n) => ({ n, subnet: formatPrefix(readSubnetFile(nodePaths(lab, n.name).subnetFile).subnet) }));
    subnet2 = nodes[1]!.subnet;
    for (const { n, subnet } of nodes) {
      const runner = createRunner(n.netns);
      const backend = new HostGwBackend({ runner });
      await backend.setup({ subnet, publicIp: n.underlayIp, underlayIface: "eth0", underlayMtu: 1500 });
      const peers = nodes.filter((p) => p.n !== n).map((p) => ({ node: p.n.name, publicIp: p.n.underlayIp, subnet: p.subnet, backendData: {} }));
      assert.deepEqual((await backend.reconcile(peers)).problems, []);
      await ensureMasquerade(runner, { clusterCidr: state.podCidr, ipMasq: true });
    }
    await runPods(name);
  });
  after(() => weft(["lab", "down", "--name", name]));

  test("across nodes the route goes via the peer's underlay IP: complete", async () => {
    const { code, report } = await trace(name, "a", "c");
    assert.equal(code, 0, JSON.stringify(report.hops.filter((h) => h.status !== "ok")));
    assert.equal(report.backend, "host-gw");
    const route = report.hops.find((h) => h.at === "node1" && h.what === "route")!;
    assert.match(route.found, / iif weft0: via 192\.168\.125\.102 dev eth0$/);
    assert.ok(!report.hops.some((h) => /vxlan|fdb|neighbour/.test(h.what)));
  });

  test("a missing peer route breaks the path at node1's route and says how to put it back", async () => {
    const node1 = createRunner(`${name}-node1`);
    await run(node1, ["ip", "route", "del", subnet2]);
    const { code, report } = await trace(name, "a", "c");
    assert.equal(code, 1);
    const hop = report.hops[report.brokenAt! - 1]!;
    assert.deepEqual([hop.at, hop.what], ["node1", "route"]);
    assert.match(hop.found, /via 192\.168\.125\.1 dev eth0$/, "the default route takes it");
    assert.match(hop.fix!, new RegExp(`^ip -n ${name}-node1 route replace ${subnet2.replace(/\./g, "\\.")} via 192\\.168\\.125\\.102 dev eth0 proto 87 `));
    await run(node1, ["ip", "route", "replace", subnet2, "via", "192.168.125.102", "dev", "eth0", "proto", "87"]);
    assert.equal((await trace(name, "a", "c")).code, 0);
  });
});
