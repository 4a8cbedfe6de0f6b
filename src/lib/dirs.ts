/**
 * Paths given to weft, and the directories it makes for them.
 *
 * The rule for every path weft is given (flags, the agent's config file,
 * install-cni): it must be absolute. Such paths end up in files other
 * processes read (the conflist, the agent's status) or are used by a
 * long-running process whose working directory nobody thinks about, so a
 * relative one would mean something different to each reader.
 *
 * makeDirs exists because node's mkdirSync({ recursive: true }) spins for
 * ever when mkdir(2) answers ENOENT for a directory whose parent exists
 * (anything under /proc), and reports a read-only parent as ENOENT. It
 * walks the path itself and names the real reason.
 */
import { accessSync, constants, mkdirSync, statSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { WeftError } from "./errors.ts";

/** Error code: a path that is not absolute. */
export const PATH_NOT_ABSOLUTE = "PATH_NOT_ABSOLUTE";
/** Error code: a directory that cannot be made or written. */
export const DIR_UNUSABLE = "DIR_UNUSABLE";

/** Returns `path` when absolute; throws PATH_NOT_ABSOLUTE naming `what` (e.g. "--run-dir") otherwise. */
export function requireAbsolute(path: string, what: string): string {
  if (!isAbsolute(path)) {
    throw new WeftError(PATH_NOT_ABSOLUTE, `${what} must be an absolute path, got "${path}"`, { hint: `give the full path, e.g. ${what} ${resolve(path)}` });
  }
  return path;
}

/**
 * Makes directory `path` and its missing parents, then checks it can be
 * written. Throws DIR_UNUSABLE naming `what`, the directory that failed and
 * why (read-only file system, permission denied, not a directory, a file
 * system that takes no directories).
 */
export function makeDirs(path: string, what: string, mode = 0o755): void {
  const missing: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: some parent is a file, which the walk up reaches and names.
      if ((code !== "ENOENT" && code !== "ENOTDIR") || p === dirname(p)) throw unusable(what, path, p, err);
      missing.unshift(p);
      continue;
    }
    if (!isDir) throw unusable(what, path, p, Object.assign(new Error("not a directory"), { code: "ENOTDIR" }));
    break;
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST" && statSync(dir).isDirectory()) continue; // made by someone else meanwhile
      throw unusable(what, path, dir, err);
    }
  }
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw unusable(what, path, path, err);
  }
}

function unusable(what: string, path: string, at: string, err: unknown): WeftError {
  const code = (err as NodeJS.ErrnoException).code ?? "";
  const where = at === path ? path : `${at} (on the way to ${path})`;
  const why: Record<string, string> = {
    EROFS: `${where} is on a read-only file system`,
    EACCES: `permission denied on ${where}`,
    EPERM: `${where} may not be created or written (operation not permitted)`,
    ENOTDIR: `${where} is not a directory`,
    ENOSPC: `no space left for ${where}`,
    // mkdir(2) answers ENOENT in file systems that take no new directories, such as /proc.
    ENOENT: at === dirname(at) ? `${at} does not exist` : `${dirname(at)} does not allow creating ${at}`,
  };
  return new WeftError(DIR_UNUSABLE, `cannot use ${what} ${path}: ${why[code] ?? `${where}: ${(err as Error).message}`}${code ? ` (${code})` : ""}`, {
    hint: `give ${what} a directory on a writable file system`,
    cause: err,
  });
}
