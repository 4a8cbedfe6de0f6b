/**
 * Where LAB_ROOT (/run/weft/lab) keeps its files: in memory. /run is a
 * tmpfs on a usual Linux, and a lab's directory is runtime state (its
 * namespaces and processes do not outlive a reboot either). On a machine
 * whose /run lies on a disk filesystem, LAB_ROOT is a symbolic link to
 * /dev/shm/weft/lab, the tmpfs every Linux mounts there; nothing is mounted.
 *
 * Why it matters: a lab makes and deletes thousands of small files (pod
 * records, volumes, container layers, logs, job files). This project's CI
 * machine keeps /run on an ext4 without a journal, whose inode allocator
 * skips, one by one, every inode freed in the last minutes of its block
 * group before it takes a free one: after a few labs came and went, each
 * new file cost 0.3-0.5 ms of kernel time (20 µs on the tmpfs), and a
 * 30-pod burst spent more CPU there than the lab kubelets' own JavaScript
 * (bench/pod-startup.ts).
 *
 * `ensureLabRoot` makes LAB_ROOT (and the link's target) when missing;
 * `removeLabRootIfEmpty` removes both once the last lab is down, as `down`
 * always removed an empty LAB_ROOT.
 */
import { lstatSync, mkdirSync, readlinkSync, rmdirSync, statfsSync, symlinkSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { WeftError } from "../lib/errors.ts";
import { LAB_ROOT } from "./layout.ts";

/** The in-memory directory LAB_ROOT links to when /run is not a tmpfs. */
export const LAB_ROOT_IN_MEMORY = "/dev/shm/weft/lab";
/** statfs f_type of a tmpfs (linux/magic.h TMPFS_MAGIC). */
const TMPFS_MAGIC = 0x01021994;

/** Whether `path` lies on a tmpfs; false when it cannot be told. */
export function onTmpfs(path: string): boolean {
  try {
    return statfsSync(path).type === TMPFS_MAGIC;
  } catch {
    return false;
  }
}

/** The link target of `root`, or null when it is a directory or missing. */
function linkTarget(root: string): string | null {
  try {
    return lstatSync(root).isSymbolicLink() ? readlinkSync(root) : null;
  } catch {
    return null;
  }
}

/**
 * Makes LAB_ROOT when missing: a directory where /run is a tmpfs (or no
 * tmpfs is at /dev/shm), else a link to LAB_ROOT_IN_MEMORY. A link left by
 * an earlier run gets its target made again. Safe against another lab's
 * `up` doing the same at the same time.
 */
export function ensureLabRoot(root = LAB_ROOT, inMemory = LAB_ROOT_IN_MEMORY): void {
  const target = linkTarget(root);
  if (target !== null) {
    makeInMemoryDir(target);
    return;
  }
  if (existsDir(root)) return;
  const parent = dirname(root);
  mkdirSync(parent, { recursive: true });
  if (onTmpfs(parent) || !onTmpfs(dirname(dirname(inMemory)))) {
    mkdirSync(root, { recursive: true });
    return;
  }
  makeInMemoryDir(inMemory);
  try {
    symlinkSync(inMemory, root);
  } catch (err) {
    // Another `up` made it first: a link or a directory, either serves.
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
}

/**
 * Makes `dir` (/dev/shm/weft/lab) and its parent, refusing a path someone
 * else made: /dev/shm is writable by every user, so both must be root's own
 * directories, not links (a link there would send the lab's files anywhere).
 */
function makeInMemoryDir(dir: string): void {
  for (const d of [dirname(dir), dir]) {
    try {
      mkdirSync(d, { mode: 0o755 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const st = lstatSync(d);
    if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
      throw new WeftError("LAB_ROOT_UNSAFE", `${d} is not a directory that only root can write (the lab keeps its files there, as /run is not a tmpfs)`, {
        hint: `remove ${d} if nothing of yours is in it, then run the command again`,
      });
    }
  }
}

function existsDir(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Removes LAB_ROOT, and the in-memory directory it links to, when no lab is in it. */
export function removeLabRootIfEmpty(root = LAB_ROOT): void {
  const target = linkTarget(root);
  try {
    rmdirSync(target ?? root);
  } catch {
    // Other labs are up (or it is gone already).
    return;
  }
  if (target === null) return;
  try {
    unlinkSync(root);
    rmdirSync(dirname(target));
  } catch {
    // Another lab's `up` came between, or /dev/shm/weft holds more.
  }
}
