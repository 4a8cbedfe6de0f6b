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
 * group before it takes a free one: after a day of labs, each new file
 * under /run/weft cost 0.3-0.5 ms of kernel time (20 µs on the tmpfs), and
 * a 30-pod burst spent more CPU there than the lab kubelets' own
 * JavaScript (bench/pod-startup.ts).
 *
 * /dev/shm is used only when it is a tmpfs with room (IN_MEMORY_MIN_FREE:
 * a 3-node lab holds about 450 MB, most of it each node's copy of the CNI
 * plugin and etcd's write-ahead log) that may run programs (no noexec:
 * the nodes' plugins run from the lab's directory). The link is relative
 * (../../../dev/shm/weft/lab), so a path through a process's
 * /proc/PID/root (shell-host.ts) resolves in that process's view.
 *
 * The link and its target stay once made, like /run/weft: `down` removes
 * a lab's own directory, and LAB_ROOT only when it is an empty plain
 * directory, as it always did. Removing the link or its target as well
 * would race with another lab's `up` between the two.
 */
import { lstatSync, mkdirSync, readFileSync, readlinkSync, rmdirSync, statfsSync, symlinkSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { WeftError } from "../lib/errors.ts";
import { LAB_ROOT } from "./layout.ts";

/** The in-memory directory LAB_ROOT links to when /run is not a tmpfs. */
export const LAB_ROOT_IN_MEMORY = "/dev/shm/weft/lab";
/** statfs f_type of a tmpfs (linux/magic.h TMPFS_MAGIC). */
const TMPFS_MAGIC = 0x01021994;
/** The free space /dev/shm must have for the labs to live there. */
export const IN_MEMORY_MIN_FREE = 2 * 1024 ** 3;

/** Whether `path` lies on a tmpfs; false when it cannot be told. */
export function onTmpfs(path: string): boolean {
  try {
    return statfsSync(path).type === TMPFS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Whether the tmpfs holding `dir` can keep labs: a tmpfs, with
 * IN_MEMORY_MIN_FREE available, mounted without noexec.
 */
export function inMemoryUsable(dir: string, minFree = IN_MEMORY_MIN_FREE): boolean {
  try {
    const s = statfsSync(dir);
    return s.type === TMPFS_MAGIC && s.bavail * s.bsize >= minFree && !noexecAt(dir);
  } catch {
    return false;
  }
}

/** Whether the mount point `dir` (exactly, as /proc/self/mountinfo names it) is noexec. */
function noexecAt(dir: string): boolean {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    if (f[4] === dir && (f[5] ?? "").split(",").includes("noexec")) return true;
  }
  return false;
}

/** The absolute target of `root` when it is a symbolic link, else null. */
function linkTarget(root: string): string | null {
  try {
    return lstatSync(root).isSymbolicLink() ? resolve(dirname(root), readlinkSync(root)) : null;
  } catch {
    return null;
  }
}

/**
 * Makes LAB_ROOT when missing, or when an empty directory is in its place:
 * a directory where /run is a tmpfs (or /dev/shm cannot keep labs), else a
 * link to `inMemory`. A link whose target is gone (a reboot emptied
 * /dev/shm) gets it made again. Safe against another lab's `up` doing the
 * same at the same time; `up` tries again when another `down` or `up`
 * removed an empty LAB_ROOT between this and its own directory's making.
 */
export function ensureLabRoot(root = LAB_ROOT, inMemory = LAB_ROOT_IN_MEMORY, minFree = IN_MEMORY_MIN_FREE): void {
  const target = linkTarget(root);
  if (target !== null) {
    makeInMemoryDir(target);
    return;
  }
  const parent = dirname(root);
  mkdirSync(parent, { recursive: true });
  const wantLink = !onTmpfs(parent) && inMemoryUsable(dirname(dirname(inMemory)), minFree);
  if (isDir(root)) {
    if (!wantLink) return;
    // A directory with a lab in it stays (its labs keep their paths); an empty one that a test
    // or an earlier weft left gives way to the link.
    try {
      rmdirSync(root);
    } catch {
      return;
    }
  }
  if (!wantLink) {
    mkdirSync(root, { recursive: true });
    return;
  }
  makeInMemoryDir(inMemory);
  try {
    symlinkSync(relative(parent, inMemory), root);
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

function isDir(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Removes LAB_ROOT when it is a plain directory with no lab in it; a link and its target stay (see above). */
export function removeLabRootIfEmpty(root = LAB_ROOT): void {
  if (linkTarget(root) !== null) return;
  try {
    rmdirSync(root);
  } catch {
    // Other labs are up (or it is gone already).
  }
}
