/**
 * One bin dir holding both plugin sets the CNI benchmarks compare, each
 * installed the way its users install it: weft by `weft install-cni` (as
 * the DaemonSet does on every node), the reference plugins copied from
 * Debian's /usr/lib/cni (as a node image or an installer places them).
 *
 * Both are fresh copies so that both start from the same page-cache state.
 * Left as they are, they do not: on this VM, DAMON pages out file pages no
 * one has touched for a minute, and what a later run reads back comes in
 * single 4 KiB pages, where a file just written sits in large folios.
 * Measured (CNI VERSION, both fully resident) when weft's plugin was a
 * 110 MB bun executable: an hours-old build, 85% of it in single pages,
 * started in 5.5 ms, a fresh copy of it in 3.9 ms; Debian's 4 MB bridge in
 * 2.2 ms, a fresh copy in 2.0 ms. A node under memory pressure puts an installed plugin in the
 * first state; a node that is not keeps it in the second.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { installCni } from "../src/cli/commands/install-cni.ts";

/** Where Debian's containernetworking-plugins puts the reference plugins. */
export const REFERENCE_DIR = "/usr/lib/cni";

/** Installs weft and the reference plugins `names` into `binDir`; returns it. */
export function installPlugins(binDir: string, names: readonly string[]): string {
  mkdirSync(binDir, { recursive: true });
  installCni({ binDir });
  for (const name of names) {
    const from = join(REFERENCE_DIR, name);
    if (!existsSync(from)) throw new Error(`${from} is missing; run scripts/setup.sh (it installs containernetworking-plugins)`);
    copyFileSync(from, join(binDir, name));
    chmodSync(join(binDir, name), 0o755);
  }
  return binDir;
}
