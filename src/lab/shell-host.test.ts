import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SHELL_HOST_GONE, ShellHost } from "./shell-host.ts";

async function until(ok: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const dir = mkdtempSync(join(tmpdir(), "weft-shell-host-"));
const host = new ShellHost(["sh", "-s"], join(dir, "jobs"));
after(() => {
  host.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a job gets its stdin, argv and env, and its stdout, stderr and status come back", async () => {
  const r = await host.run(["/bin/sh", "-c", 'cat; printf "%s|%s" "$1" "$ODD" >&2; exit 3', "sh", "it's $HOME"], { ODD: "a b'c\"$x" }, "in\nput", 5000);
  assert.deepEqual(r, { code: 3, timedOut: false, stdout: "in\nput", stderr: "it's $HOME|a b'c\"$x" });
});

test("a finished job's files are the next job's, truncated, and clearSlots removes them", async () => {
  const own = new ShellHost(["sh", "-s"], join(dir, "slots"));
  try {
    const long = await own.run(["/bin/sh", "-c", "cat; echo long-error >&2"], {}, "a long first input\n".repeat(50), 5000);
    assert.equal(long.stdout.length, 19 * 50);
    const files = readdirSync(join(dir, "slots")).sort();
    assert.deepEqual(files, ["1.err", "1.in", "1.out"], "one slot, kept for the next job");
    const inodes = files.map((f) => statSync(join(dir, "slots", f)).ino);
    const short = await own.run(["/bin/sh", "-c", "cat"], {}, "b", 5000);
    assert.deepEqual([short.stdout, short.stderr], ["b", ""], "nothing of the longer job before it is left");
    assert.deepEqual(readdirSync(join(dir, "slots")).sort().map((f) => statSync(join(dir, "slots", f)).ino), inodes, "the same files: no new inode");
    own.clearSlots();
    assert.deepEqual(readdirSync(join(dir, "slots")), []);
  } finally {
    own.close();
  }
});

test("concurrent jobs each get their own result", async () => {
  const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => host.run(["/bin/sh", "-c", `sleep 0.0${i % 5}; echo ${i}; exit ${i}`], {}, "", 5000)));
  rs.forEach((r, i) => assert.deepEqual([r.code, r.stdout], [i, `${i}\n`]));
});

test("ended jobs are reaped, so the CPU they used is counted to the host, and no zombie stays", async () => {
  const own = new ShellHost(["/bin/sh", "-s"], join(dir, "reap"));
  const kids = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
  const before = new Set(kids(process.pid));
  await own.run(["/bin/true"], {}, "", 5000);
  const hostPid = kids(process.pid).find((k) => !before.has(k))!;
  const reaped = () => readFileSync(`/proc/${hostPid}/stat`, "utf8").split(") ")[1]!.split(" ").slice(13, 15).map(Number);
  await Promise.all(Array.from({ length: 5 }, () => own.run(["/bin/sh", "-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done"], {}, "", 30_000)));
  await until(() => kids(hostPid).length === 0, 3000);
  const [cutime, cstime] = reaped();
  assert.ok(cutime! + cstime! > 0, "the busy jobs' CPU is the host's children's");
  own.close();
});

test("a job that outlives its timeout is sent SIGTERM, and its files are not reused", async () => {
  const own = new ShellHost(["sh", "-s"], join(dir, "timeout"));
  try {
    const r = await own.run(["/bin/sleep", "5"], {}, "", 100);
    assert.equal(r.timedOut, true);
    assert.equal(r.code, 128 + 15);
    assert.deepEqual(readdirSync(join(dir, "timeout")), [], "what it left running may still write to them");
  } finally {
    own.close();
  }
});

test("a launched job runs in a session of its own, its output appended to its log", async () => {
  const log = join(dir, "launch.log");
  writeFileSync(log, "before\n");
  const l = await host.launch(["/bin/sh", "-c", 'echo "sid=$(ps -o sid= -p $$ | tr -d " ") pid=$$"; read x || echo eof; exit 4'], { PATH: "/usr/bin:/bin" }, log);
  assert.equal(await l.exited, 4);
  assert.equal(readFileSync(log, "utf8"), `before\nsid=${l.pid} pid=${l.pid}\neof\n`);
});

test("a launched job has exactly the env it is given, whatever the names", async () => {
  const log = join(dir, "env.log");
  const l = await host.launch(["/usr/bin/env"], { "A.B": "1 '2'", C: "x\ny" }, log);
  assert.equal(await l.exited, 0);
  assert.equal(readFileSync(log, "utf8"), "A.B=1 '2'\nC=x\ny\n");
});

test("a launched job killed by a signal ends with 128+N", async () => {
  const l = await host.launch(["/bin/sleep", "5"], {}, join(dir, "sleep.log"));
  process.kill(l.pid, "SIGKILL");
  assert.equal(await l.exited, 128 + 9);
});

test("bad jobs are refused before anything runs", async () => {
  await assert.rejects(host.run(["sleep", "1"], {}, "", 1000), /not an absolute path/);
  await assert.rejects(host.run(["/bin/true"], { "A;B": "x" }, "", 1000), /not an environment variable name/);
  assert.throws(() => host.launch(["/bin/true"], { "A=B": "x" }, join(dir, "x.log")), /not an environment variable name/);
});

test("a host that ends fails its pending jobs, and the next job starts a new one", async () => {
  const own = new ShellHost(["sh", "-s"], join(dir, "own"));
  // The job's parent is its background group's subshell, whose parent is the host.
  await assert.rejects(own.run(["/bin/sh", "-c", 'kill -9 $(ps -o ppid= -p $PPID); sleep 1'], {}, "", 5000), (err: Error & { code?: string }) => err.code === SHELL_HOST_GONE);
  const r = await own.run(["/bin/echo", "again"], {}, "", 5000);
  assert.equal(r.stdout, "again\n");
  own.close();
});
