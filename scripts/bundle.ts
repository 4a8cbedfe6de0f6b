/**
 * Bundles weft's Node.js programs into single ES modules with bun's bundler
 * (targeting Node.js), so they run as plain JavaScript: Node then loads no
 * TypeScript stripper, which costs about 50 ms of start-up per CLI command
 * and about 40 MB of resident memory in the long-running agent.
 *
 *   build/cli/main.mjs    the CLI (src/cli/main.ts), what bin/weft runs; split
 *                         into chunks so a command loads only its own code
 *   build/weft-agent.mjs  the agent alone (src/cli/agent-main.ts), what the
 *                         lab runs and a DaemonSet would
 *   build/weft-kubelet.mjs
 *                         the lab kubelet alone (src/cli/kubelet-main.ts), one per lab node
 *   build/weft-port-server.mjs
 *                         the built-in server of lab containers (lab/kubelet/port-server.ts)
 *
 * Characters beyond ASCII are written as \u escapes (asciiOnly below).
 *
 * Takes about 0.2 s; skipped when nothing under src/ (nor package.json or
 * this script, nor the git index) is newer than the bundles.
 */
import { spawnSync } from "node:child_process";
import { bunPath, newestMtime, root } from "./build-tools.ts";
import { describeCheckout } from "../src/lib/version.ts";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Node.js keeps a module's source text for as long as the module lives, one
 * byte per character when the file is ASCII, two bytes per character
 * otherwise: one "✅" (undici's mock formatter) made the 8 MB shared chunk
 * cost 16 MB in every weft process (weft dns: 20 → 12 MB of external
 * strings in process.memoryUsage()). The few other characters, all in
 * string literals and comments, become \u escapes, which mean the same
 * there (in a regular expression too; only a tagged template's raw text
 * would read differently, and the bundles' String.raw templates are ASCII).
 */
function asciiOnly(file: string): void {
  const text = readFileSync(file, "utf8");
  if (!/[^\x00-\x7f]/.test(text)) return;
  writeFileSync(file, text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
}

/** Entry, the file bin/weft or the lab runs, and bun's output arguments for it (OUT: where to write). */
const BUNDLES: [entry: string, out: string, args: (out: string) => string[]][] = [
  ["src/cli/main.ts", "build/cli/main.mjs", (dir) => ["--splitting", "--outdir", dir, "--entry-naming", "[name].mjs"]],
  ["src/cli/agent-main.ts", "build/weft-agent.mjs", (file) => ["--outfile", file]],
  ["src/cli/kubelet-main.ts", "build/weft-kubelet.mjs", (file) => ["--outfile", file]],
  ["src/lab/kubelet/port-server.ts", "build/weft-port-server.mjs", (file) => ["--outfile", file]],
];

// The commit `weft version` reports (src/lib/version.ts), fixed into the bundles.
const commit = describeCheckout(root);
// A commit changes the index, so a bundle made before it is made again
// (in a git worktree .git is a file naming the real git directory).
const dotGit = join(root, ".git");
const gitIndex = existsSync(dotGit) && statSync(dotGit).isFile() ? join(readFileSync(dotGit, "utf8").replace(/^gitdir: /, "").trim(), "index") : join(dotGit, "index");
const newest = Math.max(
  newestMtime(join(root, "src")),
  statSync(join(root, "package.json")).mtimeMs,
  statSync(import.meta.filename).mtimeMs,
  existsSync(gitIndex) ? statSync(gitIndex).mtimeMs : 0,
);
for (const [entry, out, args] of BUNDLES) {
  const outPath = join(root, out);
  if (existsSync(outPath) && statSync(outPath).mtimeMs >= newest) continue;
  let bun: string;
  try {
    bun = bunPath();
  } catch (err) {
    process.stderr.write(`bundle: ${(err as Error).message}\n`);
    process.exit(1);
  }
  // Written beside the target and renamed over it, so a weft started
  // meanwhile runs the old bundle or the new one, never half of one.
  const split = entry.endsWith("main.ts") && out.startsWith("build/cli/");
  const target = split ? dirname(outPath) : outPath;
  const tmp = `${target}.tmp-${process.pid}`;
  const r = spawnSync(bun, ["build", "--target=node", "--format=esm", `--define=__WEFT_COMMIT__=${JSON.stringify(commit)}`, ...args(tmp), join(root, entry)], { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    process.stderr.write(`bundle: bun build of ${out} failed\n`);
    process.exit(1);
  }
  for (const file of split ? readdirSync(tmp).filter((f) => /\.m?js$/.test(f)).map((f) => join(tmp, f)) : [tmp]) asciiOnly(file);
  if (split) {
    const old = `${target}.old-${process.pid}`;
    if (existsSync(target)) renameSync(target, old);
    renameSync(tmp, target);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, target);
  }
}
