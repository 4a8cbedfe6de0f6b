/**
 * ADD under concurrency, rollback of a failed ADD, idempotent DEL, and the
 * plugin working while no agent runs (only the subnet file is needed).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { cniEnv, PluginNode, runPlugin, runPluginAsync } from "../support/cni.ts";
import { storedAllocations } from "../support/ipam-store.ts";
import { ipIn } from "../support/netns.ts";

const PARALLEL = 100;

describe("CNI lifecycle", () => {
  const fx = new PluginNode("wcl");
  const { ns, files } = fx;
  const conf = () => JSON.stringify(files.config("1.0.0"));
  const allocations = () => storedAllocations(files.dataDir);
  const linkNames = () => ipIn(fx.node, "-o", "link").split("\n").map((l) => l.split(":")[1]?.trim()).filter(Boolean).sort();
  const hostVeths = () => ipIn(fx.node, "-o", "link").split("\n").filter((l) => /: veth/.test(l)).length;
  const bridgeMac = () => /link\/ether (\S+)/.exec(ipIn(fx.node, "link", "show", "weft0"))![1];

  test(`${PARALLEL} parallel ADDs from separate processes, three rounds: no duplicate address, no leak`, async () => {
    const pods = Array.from({ length: PARALLEL }, (_, i) => ns.add(`p${i}`));
    // The gateway's MAC, which pods cache, must not follow the lowest port MAC as veths come and go.
    let gatewayMac: string | undefined;
    for (let round = 0; round < 3; round++) {
      const adds = await Promise.all(pods.map((p, i) => runPluginAsync(fx.node, cniEnv("ADD", `r${round}-${i}`, `/run/netns/${p}`), conf())));
      const failed = adds.filter((r) => r.status !== 0);
      assert.deepEqual(failed.map((r) => r.stdout), [], "every ADD succeeds");
      const ips = adds.map((r) => (r.json!.ips as Array<{ address: string }>)[0]!.address);
      assert.equal(new Set(ips).size, PARALLEL, "no address handed out twice");
      for (const ip of ips) assert.ok(!["10.244.1.0/24", "10.244.1.1/24", "10.244.1.255/24"].includes(ip), `${ip} is not network, gateway or broadcast`);
      assert.equal(allocations().length, PARALLEL);
      assert.equal(hostVeths(), PARALLEL);
      gatewayMac ??= bridgeMac();
      assert.equal(bridgeMac(), gatewayMac, "the bridge keeps its MAC");
      // Each pod really holds the address its result names.
      for (const [i, p] of pods.entries()) assert.match(ipIn(p, "-4", "-o", "addr", "show", "eth0"), new RegExp(` ${ips[i]!.replaceAll(".", "\\.")} `));
      const dels = await Promise.all(pods.map((p, i) => runPluginAsync(fx.node, cniEnv("DEL", `r${round}-${i}`, `/run/netns/${p}`), conf())));
      assert.deepEqual(dels.filter((r) => r.status !== 0).map((r) => r.stdout), []);
      assert.deepEqual(allocations(), [], "DEL released every address");
      assert.equal(hostVeths(), 0, "DEL removed every veth");
      assert.equal(bridgeMac(), gatewayMac, "the bridge keeps its MAC with no port left");
    }
  });

  test("a failed ADD keeps nothing: interface name taken in the pod", () => {
    const pod = ns.add("rb");
    ipIn(pod, "link", "add", "eth0", "type", "veth", "peer", "name", "other");
    const before = linkNames();
    const r = runPlugin(fx.node, cniEnv("ADD", "rb1", `/run/netns/${pod}`), conf());
    assert.equal(r.status, 1);
    assert.match(String(r.json?.msg), /interface eth0 already exists in \/run\/netns\//);
    assert.deepEqual(linkNames(), before, "no veth left on the node");
    assert.deepEqual(allocations(), [], "no address kept");
  });

  test("a failed ADD keeps nothing: host veth name taken", () => {
    const pod = ns.add("rb2");
    const first = runPlugin(fx.node, cniEnv("ADD", "rb2", `/run/netns/${pod}`), conf());
    assert.equal(first.status, 0);
    const other = ns.add("rb3");
    // Same attachment into another pod: the host side name is taken.
    const r = runPlugin(fx.node, cniEnv("ADD", "rb2", `/run/netns/${other}`), conf());
    assert.equal(r.status, 1);
    assert.match(String(r.json?.msg), /host interface veth[0-9a-f]{11} for rb2\/eth0 already exists/);
    assert.doesNotMatch(ipIn(other, "-o", "link"), /eth0/);
    assert.equal(allocations().length, 1, "the first ADD's address is kept, nothing more");
    assert.equal(runPlugin(fx.node, cniEnv("DEL", "rb2", `/run/netns/${pod}`), conf()).status, 0);
    assert.deepEqual(allocations(), []);
  });

  test("DEL is idempotent: repeated, namespace gone, never added, empty prevResult", () => {
    const pod = ns.add("del");
    const add = runPlugin(fx.node, cniEnv("ADD", "d1", `/run/netns/${pod}`), conf());
    assert.equal(add.status, 0);
    const withPrev = JSON.stringify({ ...files.config("1.0.0"), prevResult: add.json });
    assert.equal(runPlugin(fx.node, cniEnv("DEL", "d1", `/run/netns/${pod}`), withPrev).status, 0);
    assert.equal(runPlugin(fx.node, cniEnv("DEL", "d1", `/run/netns/${pod}`), withPrev).status, 0, "again");
    assert.equal(runPlugin(fx.node, cniEnv("DEL", "d1", "/run/netns/gone-already"), conf()).status, 0, "namespace gone");
    assert.equal(runPlugin(fx.node, { ...cniEnv("DEL", "d1", ""), CNI_NETNS: "" }, conf()).status, 0, "no namespace at all");
    assert.equal(runPlugin(fx.node, cniEnv("DEL", "never-added", `/run/netns/${pod}`), conf()).status, 0, "never added");
    assert.equal(runPlugin(fx.node, cniEnv("DEL", "d1", `/run/netns/${pod}`), JSON.stringify({ ...files.config("1.0.0"), prevResult: {} })).status, 0, "empty prevResult");
    assert.equal(hostVeths(), 0);
    assert.deepEqual(allocations(), []);
  });

  test("ADD survives a restart of nothing: only the subnet file is needed, and a re-ADD after a crash keeps the address", () => {
    const pod = ns.add("keep");
    const a = runPlugin(fx.node, cniEnv("ADD", "k1", `/run/netns/${pod}`, "net1"), conf());
    assert.equal(a.status, 0, a.stdout);
    const ip = (a.json!.ips as Array<{ address: string }>)[0]!.address;
    // A runtime that lost the pod's interface (e.g. crash mid-ADD) retries ADD: same address.
    ipIn(fx.node, "link", "del", (a.json!.interfaces as Array<{ name: string }>)[1]!.name);
    const b = runPlugin(fx.node, cniEnv("ADD", "k1", `/run/netns/${pod}`, "net1"), conf());
    assert.equal(b.status, 0, b.stdout);
    assert.equal((b.json!.ips as Array<{ address: string }>)[0]!.address, ip);
    assert.equal(runPlugin(fx.node, cniEnv("DEL", "k1", `/run/netns/${pod}`, "net1"), conf()).status, 0);
  });
});
