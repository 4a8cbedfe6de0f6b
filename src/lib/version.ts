/**
 * What `weft version` reports: weft's version (package.json), the git
 * commit the running code was built from, and the Node.js it runs on.
 *
 * scripts/bundle.ts fixes the commit into the bundles it writes (as
 * `git describe --always --dirty` of the checkout at that moment), so an
 * installed bundle or image says what it was built from. Run from src/
 * (TypeScript, no bundle) the checkout's own HEAD is asked for.
 */
import { spawnSync } from "node:child_process";
import pkg from "../../package.json" with { type: "json" };
import { ROOT } from "./root.ts";

/** Replaced by the bundler (`--define`); undefined when running from src/. */
declare const __WEFT_COMMIT__: string | undefined;

/** weft's version, from package.json. */
export const VERSION: string = pkg.version;

/** The commit the running code was built from, e.g. "7bf881b3c2a1" or "7bf881b3c2a1-dirty"; "unknown" outside a git checkout. */
export function buildCommit(): string {
  if (typeof __WEFT_COMMIT__ === "string") return __WEFT_COMMIT__;
  return describeCheckout(ROOT);
}

/** `git describe --always --dirty --abbrev=12` of `dir`, or "unknown". */
export function describeCheckout(dir: string): string {
  const r = spawnSync("git", ["-C", dir, "describe", "--always", "--dirty", "--abbrev=12"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : "unknown";
}

/** The line `weft version` prints. */
export function versionLine(): string {
  return `weft ${VERSION} (commit ${buildCommit()}, Node.js ${process.versions.node})`;
}
