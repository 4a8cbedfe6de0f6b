// The lab's supervisor: it restarts a killed agent inside its node's
// namespace, and `up` fails early, naming the node and its log, when an agent
// keeps exiting.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readSupervisorReport, type SupervisorReport } from "../../src/lab/daemons.ts";
import { labLayout, logFile, nodeNs } from "../../src/lab/layout.ts";
import { isAlive, pidsInNamespaces } from "../../src/lab/procs.ts";
import { sleep } from "../../src/lib/sleep.ts";
import { uniqueLabName, weft, weftOk } from "../../src/lab/testing.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

function agent(report: SupervisorReport | null, node: string) {
  return report?.processes.find((p) => p.name === `${node}-agent`);
}

describe("lab supervisor", { skip }, () => {
  const name = uniqueLabName("sup");
  const lab = labLayout(name);
  const crashing = uniqueLabName("crash");
  after(async () => {
    await weft(["lab", "down", "--name", name]);
    await weft(["lab", "down", "--name", crashing]);
  });

  test("a killed agent is restarted in its node's namespace", async () => {
    await weftOk(["lab", "up", "--no-kubernetes", "--name", name, "--nodes", "2"]);
    const before = agent(readSupervisorReport(lab), "node2")!;
    assert.equal(before.starts, 1);
    assert.ok(pidsInNamespaces([nodeNs(lab, "node2")]).get(nodeNs(lab, "node2"))!.includes(before.pid!));

    process.kill(before.pid!, "SIGKILL");
    let now = agent(readSupervisorReport(lab), "node2");
    for (let i = 0; i < 150 && !(now?.starts === 2 && now.pid !== null); i++) {
      await sleep(100);
      now = agent(readSupervisorReport(lab), "node2");
    }
    assert.equal(now?.starts, 2);
    assert.notEqual(now!.pid, before.pid);
    assert.ok(isAlive(now!.pid!));
    assert.ok(pidsInNamespaces([nodeNs(lab, "node2")]).get(nodeNs(lab, "node2"))!.includes(now!.pid!), "the new agent runs in node2's namespace");
    assert.deepEqual(now!.lastExit && { code: now!.lastExit.code, signal: now!.lastExit.signal }, { code: null, signal: "SIGKILL" });
    assert.match(readFileSync(logFile(lab, "node2-agent"), "utf8"), /node2-agent exited \(SIGKILL\) after \d+ ms; restarting in 200 ms/);
    assert.equal(agent(readSupervisorReport(lab), "node1")!.starts, 1, "node1's agent was left alone");
  });

  test("up fails early, naming the node and its log, when an agent keeps exiting", async () => {
    const started = Date.now();
    const r = await weft(["lab", "up", "--no-kubernetes", "--name", crashing, "--nodes", "1"], { WEFT_LAB_AGENT_CMD: "echo cannot lease a subnet >&2; exit 3" });
    assert.equal(r.code, 1);
    const log = logFile(labLayout(crashing), "node1-agent");
    assert.equal(
      r.stderr,
      `weft: the agent on node1 keeps exiting (3 starts, last status 3): "cannot lease a subnet"; see ${log}; the lab is left up for inspection; run weft lab down --name ${crashing}\n`,
    );
    assert.ok(Date.now() - started < 10_000);
  });
});
