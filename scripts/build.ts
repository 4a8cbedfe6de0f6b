/**
 * Builds the self-contained CNI plugin executable, build/weft-cni, with
 * `bun build --compile --minify --bytecode`: one file that runs on a host
 * with no Node.js or Bun installed. Skipped when nothing under src/ is newer.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const entry = join(root, "src/cni/main.ts");
const out = join(root, "build/weft-cni");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** The bun binary from the platform package npm installed (no install script needed). */
function bunPath(): string {
  const arch = process.arch === "arm64" ? "aarch64" : "x64";
  const p = join(root, `node_modules/@oven/bun-linux-${arch}/bin/bun`);
  if (!existsSync(p)) throw new Error(`bun is not installed at ${p}; run scripts/setup.sh`);
  return p;
}

if (existsSync(entry) && (!existsSync(out) || statSync(out).mtimeMs < newestMtime(join(root, "src")))) {
  const r = spawnSync(bunPath(), // No .env or bunfig.toml autoloading: the plugin runs in the runtime's
  // working directory and must not pick up whatever files lie there.
  ["build", "--compile", "--minify", "--bytecode", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", "--target=bun", entry, "--outfile", out], { stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) {
    process.stderr.write("build: bun build of the CNI plugin failed\n");
    process.exit(1);
  }
  process.stdout.write(`build: ${out} (${(statSync(out).size / 1e6).toFixed(1)} MB)\n`);
}
