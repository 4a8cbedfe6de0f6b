// `weft lab down` removes every namespace, process and file a lab made,
// within 3 s, is idempotent, and works when the lab's records are partial.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { readSupervisorReport, supervisorPid } from "../../src/lab/daemons.ts";
import { labLayout, ownsNamespace, type LabLayout } from "../../src/lab/layout.ts";
import { isAlive, pidsInNamespaces } from "../../src/lab/procs.ts";
import { readPodRecords } from "../../src/lab/state.ts";
import { uniqueLabName, weft, weftOk, writeReferenceConflist } from "../../src/lab/testing.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

/** Every pid the lab started that should die with it: supervisor, its processes, pod commands, anything in its namespaces. */
function labPids(lab: LabLayout): number[] {
  const namespaces = readdirSync("/run/netns").filter((ns) => ownsNamespace(lab, ns));
  return [
    supervisorPid(lab)!,
    ...readSupervisorReport(lab)!.processes.map((p) => p.pid!),
    ...readPodRecords(lab).map((p) => p.pid!),
    ...[...pidsInNamespaces(namespaces).values()].flat(),
  ];
}

function assertGone(lab: LabLayout, pids: number[]): void {
  assert.deepEqual(readdirSync("/run/netns").filter((ns) => ownsNamespace(lab, ns)), [], "no namespace left");
  assert.deepEqual(pids.filter(isAlive), [], "no process left");
  assert.ok(!existsSync(lab.dir), "no file left");
  const cmdlines = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, "utf8");
    } catch {
      return "";
    }
  });
  assert.deepEqual(cmdlines.filter((c) => c.includes(lab.dir) || c.includes(`--name\0${lab.name}\0`)), [], "no process mentions the lab");
}

describe("lab down", { skip }, () => {
  const name = uniqueLabName("down");
  const lab = labLayout(name);
  after(() => weft(["lab", "down", "--name", name]));

  test("removes every namespace, process and file within 3 s", async () => {
    await weftOk(["lab", "up", "--no-kubernetes", "--name", name]);
    writeReferenceConflist(lab, "node2", 2);
    await weftOk(["lab", "run", "p1", "--name", name, "--node", "node2", "--port", "8083:80", "--", "sleep", "1000"]);
    await weftOk(["lab", "run", "p2", "--name", name, "--node", "node2", "--", "sh", "-c", "sleep 1000 & sleep 1000"]);
    const pids = labPids(lab);
    assert.ok(pids.length >= 10, `${pids.length} pids`);
    assert.deepEqual(pids.filter((p) => !isAlive(p)), []);

    const started = Date.now();
    assert.match(await weftOk(["lab", "down", "--name", name]), new RegExp(`^lab ${name}: down in \\d\\.\\d s\\n$`));
    const took = Date.now() - started;
    assert.ok(took <= 3000, `down took ${took} ms`);
    assertGone(lab, pids);
  });

  test("is idempotent", async () => {
    assert.equal(await weftOk(["lab", "down", "--name", name]), `lab ${name} is not up; nothing to do\n`);
  });

  test("works when state.json is gone and the supervisor was killed", async () => {
    await weftOk(["lab", "up", "--no-kubernetes", "--name", name, "--nodes", "2"]);
    writeReferenceConflist(lab, "node1", 1);
    await weftOk(["lab", "run", "p3", "--name", name, "--node", "node1", "--", "sleep", "1000"]);
    const pids = labPids(lab);
    process.kill(supervisorPid(lab)!, "SIGKILL");
    rmSync(lab.stateFile);
    await weftOk(["lab", "down", "--name", name]);
    assertGone(lab, pids);
  });
});
