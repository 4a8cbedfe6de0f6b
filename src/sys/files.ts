/**
 * Whole-file reads and writes over Syscalls, for the compiled plugin, which
 * does without node:fs (see syscalls.ts for why).
 */
import { IoError, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, W_OK, type Syscalls } from "./syscalls.ts";

/** The file operations the plugin and its IPAM store need. */
export interface Files {
  /** The whole file as UTF-8 text; undefined when it does not exist. */
  readText(path: string): string | undefined;
  /** Creates `path` (with `mode`) or truncates it, and writes `text`. */
  writeText(path: string, text: string, mode: number): void;
  /** Renames `from` over `to` in one step (rename(2)). */
  rename(from: string, to: string): void;
  /** Removes `path`; one that is not there is fine. */
  remove(path: string): void;
  /** Opens the existing file `path` for reading and writing in place, or only reading (IoError ENOENT when missing). */
  openInPlace(path: string, readOnly?: boolean): InPlaceFile;
  /** Creates the directory `path` and any missing parents, each with `mode`; an existing one is fine. */
  mkdirs(path: string, mode: number): void;
  /** undefined when `path` can be written (access W_OK), else why not as an errno name: ENOENT when it does not exist, EROFS, EACCES, … */
  writable(path: string): string | undefined;
}

/** A file read whole and changed by writes at byte offsets. */
export interface InPlaceFile {
  /**
   * The whole file as Latin-1 text, one character per byte (read from
   * offset 0: call it once, first). The IPAM store is ASCII; decoding it
   * byte for byte keeps each record's place in the text its place in the
   * file even when a damaged byte is not ASCII.
   */
  readText(): string;
  /** Writes `text` (UTF-8) at byte `offset`. */
  writeAt(offset: number, text: string): void;
  close(): void;
}

const ENOENT = 2;
const decoder = new TextDecoder();
const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

/** Reads `fd` to its end as UTF-8 (or with `dec`), into a buffer of `size` bytes to begin with. */
export function readAll(sys: Syscalls, fd: number, size = 4096, dec: TextDecoder = decoder): string {
  let buf = new Uint8Array(size);
  let n = 0;
  for (;;) {
    if (n === buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    const r = sys.read(fd, buf.subarray(n));
    if (r === 0) return dec.decode(buf.subarray(0, n));
    n += r;
  }
}

/** Writes all of `text` to `fd` as UTF-8. */
export function writeAll(sys: Syscalls, fd: number, text: string): void {
  const bytes = encoder.encode(text);
  for (let off = 0; off < bytes.length; ) off += sys.write(fd, bytes.subarray(off));
}

/** Files through `sys`; failures are IoErrors naming the path. */
export function sysFiles(sys: Syscalls): Files {
  /** mkdir(2); true when made or already there, false when the parent is missing. */
  const mkdir = (path: string, mode: number): boolean => {
    try {
      sys.mkdir(path, mode);
      return true;
    } catch (err) {
      if (err instanceof IoError && err.code === "EEXIST") return true;
      if (err instanceof IoError && err.code === "ENOENT") return false;
      throw err;
    }
  };
  const mkdirs = (path: string, mode: number): void => {
    if (mkdir(path, mode)) return;
    const parent = path.slice(0, path.lastIndexOf("/"));
    if (parent !== "") mkdirs(parent, mode);
    if (!mkdir(path, mode)) throw new IoError(`mkdir ${path}`, ENOENT);
  };
  return {
    readText(path) {
      let fd: number;
      try {
        fd = sys.open(path, O_RDONLY, 0);
      } catch (err) {
        if (err instanceof IoError && err.code === "ENOENT") return undefined;
        throw err;
      }
      try {
        return readAll(sys, fd);
      } finally {
        sys.close(fd);
      }
    },
    writeText(path, text, mode) {
      const fd = sys.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
      try {
        writeAll(sys, fd, text);
      } finally {
        sys.close(fd);
      }
    },
    rename: (from, to) => sys.rename(from, to),
    remove(path) {
      try {
        sys.unlink(path);
      } catch (err) {
        if (!(err instanceof IoError && err.code === "ENOENT")) throw err;
      }
    },
    openInPlace(path, readOnly = false) {
      const fd = sys.open(path, readOnly ? O_RDONLY : O_RDWR, 0);
      return {
        // 64 KiB holds the store of a node running 127 pods in one read.
        readText: () => readAll(sys, fd, 65536, latin1),
        writeAt(offset, text) {
          const bytes = encoder.encode(text);
          for (let off = 0; off < bytes.length; ) off += sys.pwrite(fd, bytes.subarray(off), offset + off);
        },
        close: () => sys.close(fd),
      };
    },
    mkdirs,
    writable(path) {
      try {
        sys.access(path, W_OK);
        return undefined;
      } catch (err) {
        if (err instanceof IoError) return err.code;
        throw err;
      }
    },
  };
}
