import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { ensureLabRoot, inMemoryUsable, onTmpfs, removeLabRootIfEmpty } from "./lab-root.ts";

const skip = process.getuid?.() !== 0 ? "needs root (the in-memory directory must be root's)" : !onTmpfs("/dev/shm") ? "no tmpfs at /dev/shm" : false;
const onDisk = skip || (onTmpfs(tmpdir()) && "tmpdir is a tmpfs, not a disk");

/** A LAB_ROOT on the disk (tmpdir) and an in-memory directory of the test's own under /dev/shm. */
function places(t: { after: (fn: () => void) => void }): { root: string; inMemory: string } {
  const disk = mkdtempSync(join(tmpdir(), "weft-lab-root-"));
  const shm = mkdtempSync("/dev/shm/weft-lab-root-test-");
  t.after(() => {
    rmSync(disk, { recursive: true, force: true });
    rmSync(shm, { recursive: true, force: true });
  });
  return { root: join(disk, "run", "weft", "lab"), inMemory: join(shm, "weft", "lab") };
}

test("on a disk /run, LAB_ROOT is a relative link to the in-memory directory, which stays when the last lab goes", { skip: onDisk }, (t) => {
  const { root, inMemory } = places(t);
  ensureLabRoot(root, inMemory);
  const link = readlinkSync(root);
  assert.ok(!link.startsWith("/"), `relative, so it resolves inside /proc/PID/root: ${link}`);
  assert.equal(resolve(dirname(root), link), inMemory);
  assert.ok(onTmpfs(join(root, ".")), "a lab's files land on the tmpfs");
  ensureLabRoot(root, inMemory); // a second `up` finds it
  mkdirSync(join(root, "blue"));
  writeFileSync(join(root, "blue", "state.json"), "{}");
  rmSync(join(root, "blue"), { recursive: true });
  removeLabRootIfEmpty(root);
  assert.ok(lstatSync(root).isSymbolicLink() && lstatSync(inMemory).isDirectory(), "removing them would race with another lab's up");
});

test("a link whose target went (a reboot empties /dev/shm) is made whole again", { skip: onDisk }, (t) => {
  const { root, inMemory } = places(t);
  ensureLabRoot(root, inMemory);
  rmSync(dirname(inMemory), { recursive: true });
  ensureLabRoot(root, inMemory);
  assert.ok(lstatSync(inMemory).isDirectory());
});

test("an empty directory in LAB_ROOT's place gives way to the link; one holding a lab stays", { skip: onDisk }, (t) => {
  const { root, inMemory } = places(t);
  mkdirSync(root, { recursive: true });
  ensureLabRoot(root, inMemory);
  assert.ok(lstatSync(root).isSymbolicLink());
  const other = places(t);
  mkdirSync(join(other.root, "blue"), { recursive: true });
  ensureLabRoot(other.root, other.inMemory);
  assert.ok(lstatSync(other.root).isDirectory() && existsSync(join(other.root, "blue")));
  assert.equal(existsSync(other.inMemory), false);
});

test("an in-memory directory others may write is refused, and nothing is linked", { skip: onDisk }, (t) => {
  const { root, inMemory } = places(t);
  mkdirSync(dirname(inMemory), { recursive: true });
  chmodSync(dirname(inMemory), 0o777);
  assert.throws(() => ensureLabRoot(root, inMemory), { code: "LAB_ROOT_UNSAFE" });
  assert.throws(() => lstatSync(root));
});

test("where /dev/shm has too little room, LAB_ROOT is a plain directory on the disk", { skip: onDisk }, (t) => {
  const { root, inMemory } = places(t);
  assert.equal(inMemoryUsable("/dev/shm", Number.MAX_SAFE_INTEGER), false);
  ensureLabRoot(root, inMemory, Number.MAX_SAFE_INTEGER);
  assert.ok(lstatSync(root).isDirectory());
  removeLabRootIfEmpty(root);
  assert.equal(existsSync(root), false, "an empty plain LAB_ROOT goes with the last lab, as it always did");
});

test("where /run is a tmpfs, LAB_ROOT is a plain directory", { skip }, (t) => {
  const { inMemory } = places(t);
  const root = join(inMemory, "..", "run", "weft", "lab");
  ensureLabRoot(root, join(inMemory, "..", "elsewhere", "lab"));
  assert.ok(lstatSync(root).isDirectory());
  removeLabRootIfEmpty(root);
  assert.equal(existsSync(root), false);
});
