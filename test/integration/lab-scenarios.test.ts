// The lab's failure scenarios, each reproduced with real agents on a
// two-node lab: what breaks for pods, and `weft doctor --lab` failing the
// right check with the fix; then the fix it names makes the lab healthy.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { Finding } from "../../src/doctor/finding.ts";
import { labLayout } from "../../src/lab/layout.ts";
import type { LabState } from "../../src/lab/state.ts";
import type { PodView } from "../../src/lab/runtime.ts";
import { hostSnapshot, REAL_AGENT, uniqueLabName, weft, weftOk } from "../../src/lab/testing.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;
/** The real agent: an empty override. */

/** A two-node lab with real agents, torn down after its describe. */
function labFor(tag: string) {
  const name = uniqueLabName(tag);
  after(() => weft(["lab", "down", "--name", name]));
  return {
    name,
    up: (flags: string[]) => weftOk(["lab", "up", "--no-kubernetes", "--name", name, "--nodes", "2", ...flags], REAL_AGENT),
    down: () => weftOk(["lab", "down", "--name", name]),
    /** `weft doctor --lab -o json`: its findings and exit status. */
    diagnose: async () => {
      const r = await weft(["doctor", "--lab", name, "-o", "json"], REAL_AGENT);
      return { code: r.code, findings: JSON.parse(r.stdout) as Finding[] };
    },
    /** `weft doctor --lab` as text. */
    report: () => weft(["doctor", "--lab", name], REAL_AGENT),
    /** Starts p1 on node1 and p2 on node2; returns their IPs. */
    pods: async () => {
      await weftOk(["lab", "run", "p1", "--node", "node1", "--name", name, "--", "sleep", "600"], REAL_AGENT);
      await weftOk(["lab", "run", "p2", "--node", "node2", "--name", name, "--", "sleep", "600"], REAL_AGENT);
      const pods = JSON.parse(await weftOk(["lab", "pods", "--name", name, "-o", "json"])) as PodView[];
      return Object.fromEntries(pods.map((p) => [p.name, p.ip!]));
    },
    /** True when `ping` from pod or node `from` to `to` gets an answer. */
    pings: async (from: string, to: string, extra: string[] = []) =>
      (await weft(["lab", "exec", from, "--name", name, "--", "ping", "-c", "1", "-w", "1", ...extra, to])).code === 0,
  };
}

/** The failing findings as "node check" keys. */
function failing(findings: readonly Finding[]): string[] {
  return findings.filter((f) => f.status === "fail").map((f) => `${f.node} ${f.check}`);
}

function find(findings: readonly Finding[], node: string, check: string): Finding {
  const f = findings.find((x) => x.node === node && x.check === check);
  assert.ok(f, `no ${check} finding on ${node}`);
  return f;
}

describe("a plain lab", { skip, timeout: 60_000 }, () => {
  const lab = labFor("plain");

  test("passes no --iface to the agents, and doctor finds no problem", async () => {
    await lab.up([]);
    const state = JSON.parse(readFileSync(labLayout(lab.name).stateFile, "utf8")) as LabState;
    assert.equal(state.iface, null);
    assert.ok(!state.daemons.find((d) => d.name === "node1-agent")!.argv.includes("--iface"));
    const d = await lab.diagnose();
    assert.deepEqual(d.findings.filter((f) => f.status !== "ok"), []);
    assert.equal(d.code, 0);
    const text = await lab.report();
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^NODE +CHECK +STATUS +DETAIL\nnode1 +agent +ok +ready: /);
    assert.match(text.stdout, /\n\nno problems found\n$/);
  });
});

describe("scenario wrong-iface", { skip, timeout: 60_000 }, () => {
  const lab = labFor("wrongif");

  test("every node advertises 10.0.2.15, pods cannot cross nodes, and doctor names eth1", async () => {
    await lab.up(["--scenario", "wrong-iface"]);
    const ips = await lab.pods();
    assert.equal(await lab.pings("p1", ips["p2"]!), false, "pods cross nodes although every node advertises 10.0.2.15");
    const d = await lab.diagnose();
    assert.equal(d.code, 1);
    for (const [node, other] of [["node1", "node2"], ["node2", "node1"]] as const) {
      const f = find(d.findings, node, "public-ip");
      assert.equal(f.status, "fail");
      assert.match(f.message, new RegExp(`^advertises 10\\.0\\.2\\.15 \\(eth0\\), as ${other} does: an address every node shares`));
      assert.match(f.fix!, new RegExp(`restart the agents with --iface eth1 \\(or --iface-can-reach 192\\.168\\.125\\.10[12]\\); in this lab: weft lab down --name ${lab.name} && weft lab up --name ${lab.name} --nodes 2 --scenario wrong-iface --no-kubernetes --iface eth1$`));
    }
    const text = await lab.report();
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^node1 +public-ip +fail +advertises 10\.0\.2\.15 \(eth0\)/m);
    assert.match(text.stdout, /\nfixes:\n  node1 public-ip: eth1 holds 192\.168\.125\.101, on the network the nodes share: restart the agents with --iface eth1/);
    assert.match(text.stdout, /\n\d+ problems found \(\d+ failing, \d+ warnings?\)\n$/);
  });

  test("with --iface eth1, as doctor says, the lab is healthy", async () => {
    await lab.down();
    await lab.up(["--scenario", "wrong-iface", "--iface", "eth1"]);
    const ips = await lab.pods();
    assert.ok(await lab.pings("p1", ips["p2"]!));
    const d = await lab.diagnose();
    assert.deepEqual(d.findings.filter((f) => f.status !== "ok"), []);
    assert.equal(d.code, 0);
    assert.match(find(d.findings, "node1", "public-ip").message, /^advertises 192\.168\.125\.101 \(eth1\)/);
  });
});

describe("scenario no-forwarding", { skip, timeout: 60_000 }, () => {
  const lab = labFor("nofwd");

  test("node2 drops pod traffic through it, even after a pod ADD there, and doctor says forwarding", async () => {
    const host = await hostSnapshot();
    await lab.up(["--scenario", "no-forwarding"]);
    const ips = await lab.pods();
    // The plugin turned forwarding on for p2's ADD; the scenario's loop turns it off within a second.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await lab.pings("p1", ips["p2"]!), false);
    assert.ok(await lab.pings("node1", ips["p1"]!), "node1 still reaches its own pod");
    const d = await lab.diagnose();
    assert.equal(d.code, 1);
    assert.deepEqual(failing(d.findings), ["node2 forwarding"]);
    const f = find(d.findings, "node2", "forwarding");
    assert.match(f.message, /^net\.ipv4\.ip_forward = 0/);
    assert.match(f.fix!, new RegExp(`^weft lab exec node2 --name ${lab.name} -- sysctl -w net\\.ipv4\\.ip_forward=1; `));
    assert.deepEqual(await hostSnapshot(), host, "the scenario's sysctl loop stays inside node2");
  });
});

describe("scenario mtu-mismatch", { skip, timeout: 60_000 }, () => {
  const lab = labFor("mtu");

  test("small packets cross nodes, full-size ones vanish, and doctor measures the path MTU", async () => {
    await lab.up(["--scenario", "mtu-mismatch"]);
    const ips = await lab.pods();
    assert.ok(await lab.pings("p1", ips["p2"]!));
    assert.equal(await lab.pings("p1", ips["p2"]!, ["-M", "do", "-s", "1422"]), false, "a 1450-byte packet got through");
    const d = await lab.diagnose();
    assert.equal(d.code, 1);
    assert.deepEqual(failing(d.findings), ["node1 path node2", "node2 path node1"]);
    const f = find(d.findings, "node1", "path node2");
    assert.match(f.message, /a 1450-byte don't-fragment packet does not: the path to 192\.168\.125\.102 carries 1400-byte packets while eth0 says 1500/);
    assert.match(f.fix!, /set eth0's MTU to 1400 on every node .* so pods get 1350; or restart the agents with --mtu 1350$/);
  });
});

describe("scenario overlap", { skip, timeout: 60_000 }, () => {
  const lab = labFor("overlap");

  test("pods lease from 192.168.0.0/16, cannot reach the outside host on the underlay, and doctor says cluster-cidr", async () => {
    await lab.up(["--scenario", "overlap"]);
    const ips = await lab.pods();
    assert.match(ips["p1"]!, /^192\.168\./);
    assert.equal(await lab.pings("p1", "192.168.125.1"), false, "un-NATed pod traffic to the outside host came back");
    const d = await lab.diagnose();
    assert.equal(d.code, 1);
    assert.deepEqual(failing(d.findings), ["node1 cluster-cidr", "node2 cluster-cidr"]);
    const f = find(d.findings, "node1", "cluster-cidr");
    assert.match(f.message, /^the cluster CIDR 192\.168\.0\.0\/16 overlaps eth0's network 192\.168\.125\.0\/24 \(this node is 192\.168\.125\.101\)/);
    assert.match(f.fix!, new RegExp(`--pod-cidr 10\\.244\\.0\\.0/16; in this lab: weft lab down --name ${lab.name} && weft lab up --name ${lab.name} --nodes 2 --scenario overlap --no-kubernetes --pod-cidr 10\\.244\\.0\\.0/16$`));
  });

  test("--pod-cidr wins over the scenario's, as doctor's fix says, and pods reach the outside host", async () => {
    await lab.down();
    await lab.up(["--scenario", "overlap", "--pod-cidr", "10.244.0.0/16"]);
    const ips = await lab.pods();
    assert.match(ips["p1"]!, /^10\.244\./);
    assert.ok(await lab.pings("p1", "192.168.125.1"));
    assert.equal((await lab.diagnose()).code, 0);
  });
});
