// `weft lab smoke` against a real two-node lab with real agents: every check
// passes, the smoke pods are gone afterwards; then a break the agents do not
// repair (a drop rule for node2's pod subnet in a forward-hook chain of the
// node's own table inet smoke_break) fails exactly the checks whose packets
// node2 forwards to its pods, and smoke exits 1. The host namespace is the
// same before and after.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { labLayout, nodePaths } from "../../src/lab/layout.ts";
import type { SmokeReport } from "../../src/lab/smoke/report.ts";
import { createRunner, run } from "../../src/kernel/runner.ts";
import { hostSnapshot, REAL_AGENT, uniqueLabName, weft, weftOk } from "../../src/lab/testing.ts";
import { formatPrefix } from "../../src/lib/ipv4.ts";
import { readSubnetFile } from "../../src/subnet/file.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;
/** The real agent: an empty override. */

describe("weft lab smoke", { skip, timeout: 120_000 }, () => {
  const name = uniqueLabName("smoke");
  const lab = labLayout(name);
  let before: Record<string, string>;
  after(() => weft(["lab", "down", "--name", name]));

  const smoke = async () => {
    const r = await weft(["lab", "smoke", "--name", name, "-o", "json"], REAL_AGENT);
    return { code: r.code, report: JSON.parse(r.stdout) as SmokeReport, stderr: r.stderr };
  };
  const results = (report: SmokeReport) => Object.fromEntries(report.checks.map((c) => [`${c.check} ${c.from}`, c.result]));

  test("every check passes on a healthy two-node lab, in a few seconds, and leaves no pod behind", async () => {
    before = await hostSnapshot();
    await weftOk(["lab", "up", "--no-kubernetes", "--name", name, "--nodes", "2"], REAL_AGENT);
    const { code, report, stderr } = await smoke();
    assert.equal(code, 0, `${stderr}\n${JSON.stringify(report.checks, null, 1)}`);
    // Without Kubernetes there are no Services: their checks are skipped, saying why.
    assert.deepEqual(report.checks.filter((c) => c.result !== "pass").map((c) => `${c.check}: ${c.result}, ${c.detail}`), [
      "ClusterIP", "NodePort, outside", "no endpoints refused",
    ].map((c) => `${c}: skip, skipped (--no-kubernetes: no API server, no service proxy)`));
    assert.deepEqual(report.checks.map((c) => c.check), [
      "ping, same node", "tcp, same node", "no NAT, same node",
      "ping, across nodes", "tcp, across nodes", "no NAT, across nodes",
      "node to pod", "pod to node", "masquerade", "masquerade",
      "ClusterIP", "NodePort, outside", "no endpoints refused",
      "agent killed", "pods talk, agent down", "agent back", "pods talk, agent back",
    ]);
    assert.ok(report.seconds < 10, `smoke took ${report.seconds} s`);
    assert.match(await weftOk(["lab", "pods", "--name", name]), /^No pods in lab/);
  });

  test("the table form prints one row per check and the verdict", async () => {
    const r = await weft(["lab", "smoke", "--name", name], REAL_AGENT);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^CHECK +FROM +TO +RESULT +DETAIL\n/);
    assert.match(r.stdout, /\nmasquerade +smoke-a +outside \(192\.168\.125\.1:8080\) +pass +saw 192\.168\.125\.101, node1's underlay IP\n/);
    assert.match(r.stdout, /\nsmoke passed: 14 passed, 3 skipped in [\d.]+ s on lab /);
  });

  test("a forward drop on node2 fails the checks through it, and smoke exits 1", async () => {
    const subnet = formatPrefix(readSubnetFile(nodePaths(lab, "node2").subnetFile).subnet);
    const node2 = `${name}-node2`;
    await run(createRunner(node2), ["nft", "-f", "-"], `table inet smoke_break {\n  chain forward {\n    type filter hook forward priority -10; policy accept;\n    ip daddr ${subnet} drop\n  }\n}\n`);
    try {
      const { code, report } = await smoke();
      assert.equal(code, 1);
      assert.equal(report.passed, false);
      const got = results(report);
      for (const failing of ["ping, across nodes smoke-a", "tcp, across nodes smoke-a", "no NAT, across nodes smoke-c", "masquerade smoke-c", "pods talk, agent down smoke-a", "pods talk, agent back smoke-a"]) {
        assert.equal(got[failing], "fail", failing);
      }
      for (const passing of ["ping, same node smoke-a", "tcp, same node smoke-a", "no NAT, same node smoke-b", "masquerade smoke-a", "agent back -"]) {
        assert.equal(got[passing], "pass", passing);
      }
      assert.match(report.checks.find((c) => c.check === "ping, across nodes")!.detail, /no reply within 2 s/);
      assert.match(await weftOk(["lab", "pods", "--name", name]), /^No pods in lab/);
    } finally {
      await run(createRunner(node2), ["nft", "delete", "table", "inet", "smoke_break"]);
    }
  });

  test("the host namespace is unchanged", async () => {
    await weftOk(["lab", "down", "--name", name]);
    assert.deepEqual(await hostSnapshot(), before);
  });
});
