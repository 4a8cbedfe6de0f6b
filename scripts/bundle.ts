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
 *   build/bench-policy-weft.mjs
 *                         weft's side of bench/policy-reference (bench/policy-weft-main.ts):
 *                         the policy component alone, bundled as the agent is
 *
 * Every bundle is made pure ASCII (asciiOnly): V8 keeps a script's source
 * in memory for as long as its functions may still be compiled lazily, as
 * one byte per character only when every character is Latin-1. A single
 * "→" in a message made the 8.6 MB agent bundle a two-byte string: 8 MB
 * more resident memory in every agent, for the life of the process.
 *
 * Takes about 0.2 s; skipped when nothing under src/ (nor package.json,
 * bench/policy-weft-main.ts or this script, nor the git index) is newer
 * than the bundles.
 */
import { spawnSync } from "node:child_process";
import { bunPath, newestMtime, root } from "./build-tools.ts";
import { describeCheckout } from "../src/lib/version.ts";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Entry, the file bin/weft or the lab runs, and bun's output arguments for it (OUT: where to write). */
const BUNDLES: [entry: string, out: string, args: (out: string) => string[]][] = [
  ["src/cli/main.ts", "build/cli/main.mjs", (dir) => ["--splitting", "--outdir", dir, "--entry-naming", "[name].mjs"]],
  ["src/cli/agent-main.ts", "build/weft-agent.mjs", (file) => ["--outfile", file]],
  ["src/cli/kubelet-main.ts", "build/weft-kubelet.mjs", (file) => ["--outfile", file]],
  ["bench/policy-weft-main.ts", "build/bench-policy-weft.mjs", (file) => ["--outfile", file]],
];

// The commit `weft version` reports (src/lib/version.ts), fixed into the bundles.
const commit = describeCheckout(root);
// A commit changes the index, so a bundle made before it is made again
// (in a git worktree .git is a file naming the real git directory).
const dotGit = join(root, ".git");
const gitIndex = existsSync(dotGit) && statSync(dotGit).isFile() ? join(readFileSync(dotGit, "utf8").replace(/^gitdir: /, "").trim(), "index") : join(dotGit, "index");
const newest = Math.max(
  newestMtime(join(root, "src")),
  statSync(join(root, "bench/policy-weft-main.ts")).mtimeMs,
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
  for (const file of split ? readdirSync(tmp).filter((f) => /\.m?js$/.test(f)).map((f) => join(tmp, f)) : [tmp]) {
    try {
      writeFileSync(file, asciiOnly(readFileSync(file, "utf8")));
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      process.stderr.write(`bundle: ${out}: ${(err as Error).message}\n`);
      process.exit(1);
    }
  }
  if (split) {
    const old = `${target}.old-${process.pid}`;
    if (existsSync(target)) renameSync(target, old);
    renameSync(tmp, target);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, target);
  }
}

/**
 * `js` with every non-ASCII character written as a \u escape (a pair for
 * one beyond U+FFFF). bun's output has them only in string, template and
 * regular expression literals and in comments, where the escape means the
 * same character; after a backslash it would not (`\→` would become a
 * backslash and "u2192"), so that is refused rather than miscompiled.
 */
function asciiOnly(js: string): string {
  return js.replace(/(\\*)([^\x00-\x7f])/gu, (_, slashes: string, ch: string) => {
    if (slashes.length % 2 === 1) throw new Error(`an escaped non-ASCII character ${JSON.stringify(slashes.slice(-1) + ch)} cannot be written as \\u; write the escape in the source instead`);
    let escaped = "";
    for (let i = 0; i < ch.length; i++) escaped += `\\u${ch.charCodeAt(i).toString(16).padStart(4, "0")}`;
    return slashes + escaped;
  });
}
