/**
 * What the build scripts (build.ts, bundle.ts) share: finding bun and
 * deciding whether an output is older than the sources it is made from.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

/** The checkout's root. */
export const root = resolve(import.meta.dirname, "..");

/** The newest modification time of any file under `dir`, in ms. */
export function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** The bun binary from the platform package npm installed (no install script needed); throws when it is missing. */
export function bunPath(): string {
  const arch = process.arch === "arm64" ? "aarch64" : "x64";
  const p = join(root, `node_modules/@oven/bun-linux-${arch}/bin/bun`);
  if (!existsSync(p)) throw new Error(`bun is not installed at ${p}; run scripts/setup.sh`);
  return p;
}
