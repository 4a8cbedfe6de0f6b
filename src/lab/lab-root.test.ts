import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { ensureLabRoot, onTmpfs, removeLabRootIfEmpty } from "./lab-root.ts";

const skip = process.getuid?.() !== 0 ? "needs root (the in-memory directory must be root's)" : !onTmpfs("/dev/shm") ? "no tmpfs at /dev/shm" : false;

/** A LAB_ROOT on the disk (tmpdir: skipped where it is a tmpfs) and an in-memory directory of the test's own. */
function places(t: { after: (fn: () => void) => void }): { root: string; inMemory: string } {
  const disk = mkdtempSync(join(tmpdir(), "weft-lab-root-"));
  const shm = mkdtempSync("/dev/shm/weft-lab-root-test-");
  t.after(() => {
    rmSync(disk, { recursive: true, force: true });
    rmSync(shm, { recursive: true, force: true });
  });
  return { root: join(disk, "run", "weft", "lab"), inMemory: join(shm, "weft", "lab") };
}

test("on a disk /run, LAB_ROOT links to the in-memory directory, and goes with it once empty", { skip: skip || (onTmpfs(tmpdir()) && "tmpdir is a tmpfs") }, (t) => {
  const { root, inMemory } = places(t);
  ensureLabRoot(root, inMemory);
  assert.equal(readlinkSync(root), inMemory);
  assert.ok(onTmpfs(join(root, ".")), "a lab's files land on the tmpfs");
  ensureLabRoot(root, inMemory); // a second `up` finds it
  mkdirSync(join(root, "blue"));
  writeFileSync(join(root, "blue", "state.json"), "{}");
  removeLabRootIfEmpty(root);
  assert.ok(existsSync(join(inMemory, "blue", "state.json")), "a lab still up keeps both");
  rmSync(join(root, "blue"), { recursive: true });
  removeLabRootIfEmpty(root);
  assert.equal(existsSync(root) || existsSync(inMemory), false);
  assert.throws(() => lstatSync(root));
});

test("a link whose target went is made whole again", { skip: skip || (onTmpfs(tmpdir()) && "tmpdir is a tmpfs") }, (t) => {
  const { root, inMemory } = places(t);
  ensureLabRoot(root, inMemory);
  rmSync(inMemory, { recursive: true });
  ensureLabRoot(root, inMemory);
  assert.ok(lstatSync(inMemory).isDirectory());
});

test("an in-memory directory others may write is refused, and nothing is linked", { skip: skip || (onTmpfs(tmpdir()) && "tmpdir is a tmpfs") }, (t) => {
  const { root, inMemory } = places(t);
  mkdirSync(join(inMemory, ".."), { recursive: true });
  chmodSync(join(inMemory, ".."), 0o777);
  assert.throws(() => ensureLabRoot(root, inMemory), { code: "LAB_ROOT_UNSAFE" });
  assert.throws(() => lstatSync(root));
});

test("where /run is a tmpfs, LAB_ROOT is a plain directory", { skip }, (t) => {
  const { inMemory } = places(t);
  const root = join(inMemory, "..", "run", "weft", "lab");
  ensureLabRoot(root, join(inMemory, "..", "elsewhere", "lab"));
  assert.ok(lstatSync(root).isDirectory());
  removeLabRootIfEmpty(root);
  assert.equal(existsSync(root), false);
});
