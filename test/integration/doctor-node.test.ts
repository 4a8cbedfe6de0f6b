// `weft doctor` on one node, the way it runs on a real machine: inside a lab
// node's namespace with that node's directories, against its real agent.
// Then the runtime's files are broken by hand (the agent does not repair
// those), doctor fails the right check, and the fix it prints works.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Finding } from "../../src/doctor/finding.ts";
import { labLayout, nodePaths } from "../../src/lab/layout.ts";
import { REAL_AGENT, uniqueLabName, weft, WEFT_BIN, weftOk } from "../../src/lab/testing.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

describe("weft doctor on a node", { skip, timeout: 60_000 }, () => {
  const name = uniqueLabName("drnode");
  const p = nodePaths(labLayout(name), "node1");
  /** `weft doctor` run in node1's namespace with node1's paths. */
  const doctor = async (...extra: string[]) => {
    const r = await weft(["lab", "exec", "node1", "--name", name, "--", WEFT_BIN, "doctor", "--run-dir", p.runDir, "--conf-dir", p.cniConfDir, "--bin-dir", p.cniBinDir, ...extra], REAL_AGENT);
    return { code: r.code, stdout: r.stdout, findings: extra.includes("json") ? (JSON.parse(r.stdout) as Finding[]) : [] };
  };
  const problems = (findings: Finding[]) => findings.filter((f) => f.status !== "ok");

  before(() => weftOk(["lab", "up", "--no-kubernetes", "--name", name, "--nodes", "2"], REAL_AGENT));
  after(() => weft(["lab", "down", "--name", name]));

  test("a healthy node: the agent's node name, every check ok, exit status 0", async () => {
    const r = await doctor("-o", "json");
    assert.deepEqual(problems(r.findings), []);
    assert.equal(r.code, 0);
    assert.deepEqual([...new Set(r.findings.map((f) => f.node))], ["node1"]);
    assert.deepEqual(r.findings.map((f) => f.check), [
      "agent", "forwarding", "public-ip", "node-subnets", "cluster-cidr", "backend", "peer node2", "path node2",
      "mtu", "nftables", "policy", "service-proxy", "conflist", "plugin", "subnet-file", "store", "reconcile",
    ]);
  });

  test("a plugin that is not executable: plugin fails, and the chmod it prints fixes it", async () => {
    const plugin = join(p.cniBinDir, "weft");
    chmodSync(plugin, 0o644);
    const r = await doctor("-o", "json");
    assert.equal(r.code, 1);
    assert.deepEqual(problems(r.findings).map((f) => [f.check, f.status, f.message, f.fix]), [["plugin", "fail", `${plugin} is not executable`, `chmod 755 ${plugin}`]]);
    chmodSync(plugin, 0o755);
    assert.equal((await doctor()).code, 0);
  });

  test("a missing conflist: conflist fails, and the install-cni it prints fixes it", async () => {
    const conflist = join(p.cniConfDir, "10-weft.conflist");
    renameSync(conflist, `${conflist}.away`);
    try {
      const r = await doctor();
      assert.equal(r.code, 1);
      assert.match(r.stdout, /^node1 +conflist +fail +cannot read .*10-weft\.conflist: ENOENT/m);
      const fix = /^ {2}node1 conflist: install it: (weft install-cni .*)$/m.exec(r.stdout)?.[1];
      assert.ok(fix, r.stdout);
      assert.equal(fix, `weft install-cni --bin-dir ${p.cniBinDir} --conf-dir ${p.cniConfDir} --subnet-file ${p.subnetFile} --data-dir ${join(p.stateDir, "ipam")}`);
      await weftOk(fix.split(" ").slice(1));
      const again = await doctor();
      assert.equal(again.code, 0, again.stdout);
      assert.match(again.stdout, /\nno problems found\n$/);
    } finally {
      if (existsSync(conflist)) rmSync(`${conflist}.away`);
      else renameSync(`${conflist}.away`, conflist);
    }
  });

  test("another table's forward chain with policy drop: nftables fails, and the accepts it prints fix it", async () => {
    const onNode1 = (cmd: string) => weft(["lab", "exec", "node1", "--name", name, "--", "sh", "-c", cmd]);
    const docker = "table ip filter {\n  chain FORWARD {\n    type filter hook forward priority filter; policy drop;\n  }\n}\n";
    assert.equal((await onNode1(`printf '${docker}' | nft -f -`)).code, 0);
    try {
      const r = await doctor("-o", "json");
      assert.equal(r.code, 1);
      const [f] = problems(r.findings);
      assert.deepEqual([f?.check, f?.status], ["nftables", "fail"], JSON.stringify(r.findings));
      assert.match(f!.message, /^chain ip filter FORWARD \(not weft's\) has policy drop and does not accept 10\.244\.0\.0\/16: it drops pod traffic/);
      const fix = /^(nft insert rule ip filter FORWARD ip saddr 10\.244\.0\.0\/16 accept && nft insert rule ip filter FORWARD ip daddr 10\.244\.0\.0\/16 accept); on a Docker host/.exec(f!.fix ?? "")?.[1];
      assert.ok(fix, f!.fix);
      assert.equal((await onNode1(fix)).code, 0);
      const again = await doctor("-o", "json");
      assert.deepEqual(problems(again.findings), []);
    } finally {
      await onNode1("nft delete table ip filter");
    }
  });

  test("usage errors are one line", async () => {
    const r = await weft(["doctor", "--lab", name, "--run-dir", "/tmp"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "weft: doctor: --lab takes each node's directories from the lab; drop --run-dir, --conf-dir and --bin-dir\n");
    const o = await weft(["doctor", "-o", "yaml"]);
    assert.match(o.stderr, /^weft: doctor: unknown output format "yaml"; use -o table or -o json\n$/);
    const down = await weft(["doctor", "--lab", uniqueLabName("nolab")]);
    assert.match(down.stderr, /^weft: lab .* is not up; run weft lab up --name /);
  });
});
