/**
 * Bundles the agent (src/cli/agent-main.ts and everything it imports) into
 * one ES module, build/weft-agent.mjs, with bun's bundler targeting Node.js.
 * See src/cli/agent-main.ts for why the shipped agent is JavaScript. Takes
 * about 0.1 s; skipped when nothing under src/ (nor this script) is newer.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const entry = join(root, "src/cli/agent-main.ts");
/** The bundle the lab (src/lab/daemons.ts) and a DaemonSet run. */
const AGENT_BUNDLE = join(root, "build/weft-agent.mjs");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const newest = Math.max(newestMtime(join(root, "src")), statSync(join(root, "package.json")).mtimeMs, statSync(import.meta.filename).mtimeMs);
if (!existsSync(AGENT_BUNDLE) || statSync(AGENT_BUNDLE).mtimeMs < newest) {
  const arch = process.arch === "arm64" ? "aarch64" : "x64";
  const bun = join(root, `node_modules/@oven/bun-linux-${arch}/bin/bun`);
  if (!existsSync(bun)) {
    process.stderr.write(`build-agent: bun is not installed at ${bun}; run scripts/setup.sh\n`);
    process.exit(1);
  }
  const r = spawnSync(bun, ["build", "--target=node", "--format=esm", "--outfile", AGENT_BUNDLE, entry], { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) {
    process.stderr.write("build-agent: bun build of the agent bundle failed\n");
    process.exit(1);
  }
}
