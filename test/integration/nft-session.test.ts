/**
 * The long-lived nft writer (src/kernel/nft/session.ts) against the real
 * nft in a namespace of its own: a transaction is applied whole, a refused
 * one changes nothing and says which command nft refused, the process
 * survives a refusal and is replaced when it dies, and large scripts (and
 * all of them when nft has no interactive CLI) go through `nft -f -`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KERNEL_COMMAND_FAILED, createRunner, run } from "../../src/kernel/runner.ts";
import { NftSession } from "../../src/kernel/nft/session.ts";
import { NftTransaction } from "../../src/kernel/nft/transaction.ts";
import { WeftError } from "../../src/lib/errors.ts";
import { Namespaces } from "../support/netns.ts";

const T = { family: "ip", name: "weft-session-test" } as const;
const SET = { name: "s", key: ["ipv4_addr"] };

describe("NftSession (nft -i)", { timeout: 60_000 }, () => {
  const spaces = new Namespaces("nfts");
  let ns: string;
  let session: NftSession;
  const elements = async () => {
    const out = await run(createRunner(ns), ["nft", "list", "set", "ip", T.name, "s"]);
    return [...out.matchAll(/\d+\.\d+\.\d+\.\d+/g)].map((m) => m[0]).sort();
  };
  const tx = () => new NftTransaction(T);

  before(async () => {
    ns = spaces.add("a");
    session = new NftSession(createRunner(ns), { maxScriptBytes: 2000 });
    await session.apply(tx().addTable().addSet(SET).addChain({ name: "c" }).addRule("c", "ip daddr @s accept"));
  });
  after(() => {
    session.close();
    spaces.removeAll();
  });

  test("applies several commands as one transaction", async () => {
    await session.apply(tx().addElements("s", [{ key: ["10.0.0.1"] }, { key: ["10.0.0.2"] }]).deleteElements("s", [{ key: ["10.0.0.2"] }]).addRule("c", "ip saddr 10.9.9.9 drop"));
    assert.deepEqual(await elements(), ["10.0.0.1"]);
    assert.match(await run(createRunner(ns), ["nft", "list", "chain", "ip", T.name, "c"]), /ip saddr 10\.9\.9\.9 drop/);
  });

  test("a refused transaction changes nothing, names the refused command, and the session goes on", async () => {
    const bad = tx().addElements("s", [{ key: ["10.0.0.3"] }]).deleteElements("s", [{ key: ["10.0.0.99"] }]);
    await assert.rejects(session.apply(bad), (err: unknown) => {
      assert.ok(err instanceof WeftError);
      assert.equal(err.code, KERNEL_COMMAND_FAILED);
      assert.match(err.message, /No such file or directory in: delete element ip weft-session-test s \{ 10\.0\.0\.99 \}/);
      return true;
    });
    assert.deepEqual(await elements(), ["10.0.0.1"], "the element added before the refused command is not there");
    await assert.rejects(session.apply(tx().addRule("c", "ip daddr 10.0.0.1 frobnicate")), /syntax error/);
    await session.apply(tx().addElements("s", [{ key: ["10.0.0.4"] }]));
    assert.deepEqual(await elements(), ["10.0.0.1", "10.0.0.4"]);
  });

  test("transactions queued at once are applied in order, each with its own outcome", async () => {
    const results = await Promise.allSettled([
      session.apply(tx().addElements("s", [{ key: ["10.0.1.1"] }])),
      session.apply(tx().deleteElements("s", [{ key: ["10.0.1.2"] }])),
      session.apply(tx().addElements("s", [{ key: ["10.0.1.2"] }])),
      session.apply(tx().deleteElements("s", [{ key: ["10.0.1.1"] }])),
    ]);
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled", "fulfilled"]);
    assert.deepEqual(await elements(), ["10.0.0.1", "10.0.0.4", "10.0.1.2"]);
  });

  test("a large script goes through nft -f, a long-lived pid through nft -i", async () => {
    const pids: number[] = [];
    await session.apply(tx().addElements("s", [{ key: ["10.0.2.1"] }]), (pid) => pids.push(pid));
    await session.apply(tx().deleteElements("s", [{ key: ["10.0.2.1"] }]), (pid) => pids.push(pid));
    const many = Array.from({ length: 300 }, (_, i) => ({ key: [`10.1.${i >> 8}.${i & 255}`] }));
    await session.apply(tx().addElements("s", many), (pid) => pids.push(pid));
    assert.equal(pids[0], pids[1], "small transactions share one process");
    assert.notEqual(pids[2], pids[0], "a script over maxScriptBytes has a process of its own");
    assert.equal((await elements()).length, 303);
  });

  test("a session fed more than recycleBytes is replaced after the transaction that passed them", async () => {
    const small = new NftSession(createRunner(ns), { recycleBytes: 150 });
    try {
      const pids: number[] = [];
      // Each transaction feeds ~72 bytes (its line and the end marker): the third passes 150.
      for (const i of [1, 2, 3, 4]) await small.apply(tx().addElements("s", [{ key: [`10.0.4.${i}`] }]), (p) => pids.push(p));
      assert.deepEqual([pids[1], pids[2]], [pids[0], pids[0]], "up to the third: the same process");
      assert.notEqual(pids[3], pids[0], "then a new one");
      assert.ok((await elements()).includes("10.0.4.4"));
    } finally {
      small.close();
    }
  });

  test("an nft without an interactive CLI: every transaction goes through nft -f", async () => {
    // An nft built without its CLI, as nft itself answers -i then: on PATH before the real one.
    const dir = mkdtempSync(join(tmpdir(), "weft-nft-"));
    const real = execFileSync("sh", ["-c", "command -v nft"], { encoding: "utf8" }).trim();
    writeFileSync(join(dir, "nft"), `#!/bin/sh\nif [ "$1" = -i ]; then echo "nft: interactive CLI not supported in this build" >&2; exit 1; fi\nexec ${real} "$@"\n`, { mode: 0o755 });
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path}`;
    const plain = new NftSession(createRunner(ns));
    try {
      plain.warm();
      const pids: number[] = [];
      for (const i of [1, 2]) await plain.apply(tx().addElements("s", [{ key: [`10.0.5.${i}`] }]), (p) => pids.push(p));
      assert.notEqual(pids[0], pids[1], "a process per transaction");
      assert.ok((await elements()).includes("10.0.5.2"));
      await assert.rejects(plain.apply(tx().deleteElements("s", [{ key: ["10.0.5.9"] }])), /nft -f -.*No such file or directory/);
    } finally {
      plain.close();
      process.env.PATH = path;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a killed nft fails the transaction in flight, if any, and the next one starts a new process", async () => {
    let pid = 0;
    await session.apply(tx().addElements("s", [{ key: ["10.0.3.1"] }]), (p) => (pid = p));
    process.kill(pid, "SIGKILL");
    let next = 0;
    // The kill may be seen before this transaction is written (it then runs on a new process) or after (it fails).
    await session.apply(tx().addElements("s", [{ key: ["10.0.3.2"] }]), (p) => (next = p)).catch((err: unknown) => assert.match(String(err), /exited \(SIGKILL\)/));
    await session.apply(tx().addElements("s", [{ key: ["10.0.3.3"] }]), (p) => (next = p));
    assert.notEqual(next, pid);
    assert.ok((await elements()).includes("10.0.3.3"));
  });
});
