// Hostile input to `weft lab` (issue 17): namespaces named like a lab's but
// made by someone else, namespaces deleted or replaced behind the lab's back,
// Ctrl-C during `up`, bad flags. Each case is one row: what it sets up, what
// it runs and what must hold after. Labs use the stand-in agent (the bare
// network lab) and unique names; everything is removed in after().
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { labLayout, ownsNamespace, type LabLayout } from "../../src/lab/layout.ts";
import { cmdline, findProcesses, isAlive } from "../../src/lab/procs.ts";
import { readPodRecord } from "../../src/lab/state.ts";
import { uniqueLabName, WEFT_BIN, weft, weftOk, writeReferenceConflist, type CliResult } from "../../src/lab/testing.ts";
import { until } from "../support/until.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

const netnsList = () => (existsSync("/run/netns") ? readdirSync("/run/netns") : []);
const labNetns = (lab: LabLayout) => netnsList().filter((ns) => ownsNamespace(lab, ns)).sort();

/** One line on stderr, no stack, exit 1. */
function assertOneLineError(r: CliResult, message: RegExp): void {
  assert.equal(r.code, 1, `exit status; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^weft: /);
  assert.match(lines[0]!, message);
}

/** Processes whose command line mentions the lab's directory or its supervisor's `--name NAME`. */
function processesOf(lab: LabLayout): string[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, "utf8");
    } catch {
      return "";
    }
  }).filter((c) => c.includes(lab.dir) || c.includes(`--name\0${lab.name}\0`));
}

/** Asserts lab `lab` left nothing: no namespace it made, no directory, no process. */
function assertNothingLeft(lab: LabLayout, except: string[] = []): void {
  assert.deepEqual(labNetns(lab).filter((ns) => !except.includes(ns)), [], "no namespace left");
  assert.ok(!existsSync(lab.dir), `${lab.dir} is gone`);
  assert.deepEqual(processesOf(lab), [], "no process left");
}

describe("weft lab refuses hostile input and touches only what it made", { skip }, () => {
  /** Namespaces and processes the test itself made, as a stranger to the lab. */
  const strangers: string[] = [];
  const sleepers: ChildProcess[] = [];
  const labs: string[] = [];

  const addStranger = (ns: string) => {
    execFileSync("ip", ["netns", "add", ns]);
    strangers.push(ns);
  };
  const sleepIn = (ns: string) => {
    const child = spawn("ip", ["netns", "exec", ns, "sleep", "600"], { stdio: "ignore" });
    sleepers.push(child);
    return child;
  };
  const newLab = (tag: string) => {
    const name = uniqueLabName(tag);
    labs.push(name);
    return { name, lab: labLayout(name) };
  };
  /** Starts a pod whose command leaves a second process in its group; returns every pid of the group. */
  async function podWithTwoProcesses(name: string, lab: LabLayout, pod: string): Promise<number[]> {
    await weftOk(["lab", "run", pod, "--name", name, "--node", "node1", "--", "sh", "-c", "sleep 1000 & sleep 1000"]);
    const record = readPodRecord(lab, pod)!;
    return until(`pod ${pod}'s processes`, () => {
      const pids = findProcesses([{ pgid: record.pid! }]);
      return pids.length >= 3 ? pids : undefined; // ip-netns-exec's sh, and its two sleeps
    });
  }

  after(async () => {
    for (const child of sleepers) child.kill("SIGKILL");
    for (const name of labs) await weft(["lab", "down", "--name", name]);
    for (const ns of strangers) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  });

  // [item of issue 17, what, lab up arguments, the one-line error]
  const refusedFlags: [string, string, string[], RegExp][] = [
    ["16", "--nodes -1", ["--nodes", "-1"], /invalid --nodes -1: a lab has 1 to 154 nodes/],
    ["16", "--nodes 0", ["--nodes", "0"], /invalid --nodes 0: a lab has 1 to 154 nodes/],
    ["16", "--nodes 155", ["--nodes", "155"], /invalid --nodes 155: a lab has 1 to 154 nodes/],
    ["16", "--nodes x", ["--nodes", "x"], /invalid --nodes "x": a lab has 1 to 154 nodes/],
  ];
  for (const [item, what, args, message] of refusedFlags) {
    test(`refused (item ${item}): lab up ${what}`, async () => {
      const { name, lab } = newLab("flags");
      assertOneLineError(await weft(["lab", "up", "--name", name, ...args]), message);
      assertNothingLeft(lab);
    });
  }

  // [item, what, run and check]
  const cases: [string, string, () => Promise<void>][] = [
    ["1", "down and up of a lab without records leave namespaces named like it alone", async () => {
      const { name, lab } = newLab("qb");
      addStranger(`${name}-node1`);
      addStranger(`${name}-pod-x`);
      const sleeper = sleepIn(`${name}-node1`);
      await until("the stranger's sleep", () => cmdline(sleeper.pid!)[0] === "sleep");
      assertOneLineError(
        await weft(["lab", "down", "--name", name]),
        new RegExp(`lab ${name} has no records in ${lab.dir}, so weft did not make ${name}-node1, ${name}-pod-x; nothing was removed`),
      );
      assertOneLineError(
        await weft(["lab", "up", "--name", name, "--nodes", "1"]),
        new RegExp(`lab ${name} is not up, but namespace ${name}-node1 exists, made by someone else; choose another --name`),
      );
      assert.deepEqual(labNetns(lab), [`${name}-node1`, `${name}-pod-x`], "the stranger's namespaces are still there");
      assert.ok(isAlive(sleeper.pid!), "the stranger's process still runs");
      assert.ok(!existsSync(lab.dir));
    }],

    ["1, 14, 16", "namespaces deleted or replaced behind the lab's back", async () => {
      const { name, lab } = newLab("behind");
      await weftOk(["lab", "up", "--no-kubernetes", "--name", name, "--nodes", "1"]);
      writeReferenceConflist(lab, "node1", 1);
      // A namespace named like a lab's, made after up: not the lab's.
      addStranger(`${name}-pod-stray`);

      // Item 14: the pod's namespace is deleted; rm still stops its processes.
      const a = await podWithTwoProcesses(name, lab, "a");
      execFileSync("ip", ["netns", "del", `${name}-pod-a`]);
      // Item 16: exec into it is one clear line, not ip's error and 255.
      assertOneLineError(
        await weft(["lab", "exec", "a", "--name", name, "--", "true"]),
        new RegExp(`pod a of lab ${name} has no namespace: ${name}-pod-a was deleted outside weft; remove the pod with weft lab rm a --name ${name}`),
      );
      assert.equal(await weftOk(["lab", "rm", "a", "--name", name]), "pod/a deleted\n");
      assert.deepEqual(a.filter(isAlive), [], "pod a's processes are stopped");

      // Item 14 for down, and item 1: a pod namespace replaced by someone else's.
      const b = await podWithTwoProcesses(name, lab, "b");
      execFileSync("ip", ["netns", "del", `${name}-pod-b`]);
      addStranger(`${name}-pod-b`);
      const down = await weft(["lab", "down", "--name", name]);
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stderr, new RegExp(`warning: left alone ${name}-pod-b, ${name}-pod-stray: named like lab ${name}'s namespaces, but not made by it`));
      assert.deepEqual(b.filter(isAlive), [], "pod b's processes are stopped");
      assertNothingLeft(lab, [`${name}-pod-b`, `${name}-pod-stray`]);
      assert.deepEqual(labNetns(lab), [`${name}-pod-b`, `${name}-pod-stray`], "the stranger's namespaces are still there");
    }],

    ["13", "SIGINT while up waits for the agents removes everything that up made", async () => {
      const { name, lab } = newLab("int");
      const { code, stderr, stdout } = await upInterrupted(name, "SIGINT", "waiting for every agent");
      assert.equal(code, 1, stderr);
      assert.match(stderr, new RegExp(`^weft: lab ${name}: up interrupted by SIGINT; everything it had made is removed\\n$`));
      assert.match(stdout, /SIGINT: removing what this up made/);
      assertNothingLeft(lab);
    }],

    ["13", "SIGTERM while up creates namespaces removes everything that up made", async () => {
      const { name, lab } = newLab("term");
      const { code, stderr, stdout } = await upInterrupted(name, "SIGTERM", "creating namespaces");
      assert.equal(code, 1, stderr);
      assert.doesNotMatch(stdout, /starting \d agents/, "stopped before the agents");
      assert.match(stderr, /up interrupted by SIGTERM; everything it had made is removed/);
      assertNothingLeft(lab);
    }],

    ["16", "-o table is taken by every listing, and a wrong -o names both formats", async () => {
      const { name } = newLab("out");
      await weftOk(["lab", "up", "--name", name, "--nodes", "1", "--no-kubernetes"]);
      assert.equal(await weftOk(["lab", "pods", "--name", name, "-o", "table"]), `No pods in lab ${name}.\n`);
      const table = await weft(["doctor", "--lab", name, "-o", "table"]);
      assert.doesNotMatch(table.stderr, /output format/);
      assert.match(table.stdout, /^NODE +CHECK +STATUS +DETAIL\n/);
      for (const args of [["doctor", "--lab", name], ["lab", "pods", "--name", name], ["status", "--lab", name], ["trace", "--lab", name, "a", "b"]]) {
        assertOneLineError(await weft([...args, "-o", "yaml"]), /: unknown output format "yaml"; use -o table or -o json$/);
      }
    }],
  ];
  for (const [item, what, run] of cases) test(`item ${item}: ${what}`, run);

  /**
   * Runs `lab up --nodes 3` with an agent that never becomes ready, sends
   * `signal` once `up` has printed `after`, and returns how it ended.
   */
  function upInterrupted(name: string, signal: NodeJS.Signals, after: string): Promise<CliResult> {
    const child = spawn(WEFT_BIN, ["lab", "up", "--name", name, "--nodes", "3", "--no-kubernetes"], {
      env: { ...process.env, WEFT_LAB_AGENT_CMD: "exec sleep infinity" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let sent = false;
    child.stdout!.on("data", (b: Buffer) => {
      stdout += b.toString();
      if (!sent && stdout.includes(after)) {
        sent = true;
        child.kill(signal);
      }
    });
    child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
    return new Promise((resolve) => child.once("close", (code) => resolve({ code: code ?? 128, stdout, stderr })));
  }
});
