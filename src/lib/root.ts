/**
 * The checkout's root directory, found the same way whether this module
 * runs from src/ (TypeScript) or inlined into a bundle under build/
 * (scripts/bundle.ts): the nearest directory upwards holding weft's
 * package.json. Paths to the checkout's other files (the plugin
 * executable, helper scripts run in namespaces) are built from it.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "weft") return dir;
    if (dirname(dir) === dir) throw new Error(`weft's package.json not found above ${from}`);
  }
}

/** The checkout's root, e.g. /work/main. */
export const ROOT = findRoot(import.meta.dirname);
