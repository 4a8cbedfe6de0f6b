/**
 * The Files contract over node:fs, for tests and benchmarks that drive the
 * IPAM store from Node (the plugin's own Files go through libc, which Node
 * cannot load).
 */
import { accessSync, closeSync, constants, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import type { Files } from "./files.ts";

export const nodeFiles: Files = {
  readText(path) {
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  },
  writeText: (path, text, mode) => writeFileSync(path, text, { mode }),
  rename: renameSync,
  remove: (path) => rmSync(path, { force: true }),
  openInPlace(path, readOnly = false) {
    const fd = openSync(path, readOnly ? "r" : "r+");
    return {
      readText() {
        const buf = Buffer.alloc(statSync(path).size);
        readSync(fd, buf, 0, buf.length, 0);
        return buf.toString("latin1");
      },
      writeAt: (offset, text) => void writeSync(fd, text, offset),
      close: () => closeSync(fd),
    };
  },
  mkdirs: (path, mode) => void mkdirSync(path, { recursive: true, mode }),
  writable(path) {
    try {
      accessSync(path, constants.W_OK);
      return undefined;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code ?? String(err);
    }
  },
};
