/**
 * Builds the self-contained CNI plugin executable, build/weft-cni, with
 * `bun build --compile --minify --bytecode`: one file that runs on a host
 * with no Node.js or Bun installed. Skipped when nothing under src/ (nor
 * this script) is newer.
 *
 * Also build/weft-port-server, the built-in server of lab containers
 * (src/lab/kubelet/port-server.ts), compiled the same way: a lab node runs
 * one per container of an image outside the lab's catalog, and a compiled
 * one starts in about 4 ms of CPU where Node.js takes about 32 ms (30 such
 * pods starting together are CPU-bound; bench/pod-startup.ts).
 *
 * Two things keep the plugin's start-up short (see src/cni/main.ts):
 *   - the bundle may load no module but bun:ffi (node:fs alone costs ~1 ms
 *     a run); the build checks it and fails otherwise;
 *   - --compile-jit-policy=100 keeps JavaScriptCore's JIT out of a process
 *     that lives a few milliseconds: compiling hot loops on a JIT thread
 *     costs more than interpreting them (measured: ADD 0.5–0.9 ms faster).
 */
import { spawnSync } from "node:child_process";
import { bunPath, newestMtime, root } from "./build-tools.ts";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";

const entry = join(root, "src/cni/main.ts");
const out = join(root, "build/weft-cni");
/** The only module the plugin bundle may load at run time. */
const ALLOWED_MODULES = new Set(["bun:ffi"]);

function fail(msg: string): never {
  process.stderr.write(`build: ${msg}\n`);
  process.exit(1);
}

/** The modules the plugin's bundle requires at run time (the bundle goes to stdout; nothing is written). */
function bundledModules(bun: string): string[] {
  const r = spawnSync(bun, ["build", "--target=bun", "--format=cjs", entry], { encoding: "utf8", maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) fail("bun build of the CNI plugin bundle failed");
  return [...new Set(Array.from(r.stdout.matchAll(/\brequire\("([^"]+)"\)/g), (m) => m[1]!))];
}

const newest = Math.max(newestMtime(join(root, "src")), statSync(import.meta.filename).mtimeMs);
if (existsSync(entry) && (!existsSync(out) || statSync(out).mtimeMs < newest)) {
  const bun = bunPath();
  const extra = bundledModules(bun).filter((m) => !ALLOWED_MODULES.has(m));
  if (extra.length > 0) fail(`the CNI plugin must not load ${extra.join(", ")} (each costs every ADD start-up time; see src/cni/main.ts)`);
  const r = spawnSync(bun, [
    "build", "--compile", "--minify", "--bytecode", "--compile-jit-policy=100",
    // No .env or bunfig.toml autoloading: the plugin runs in the runtime's
    // working directory and must not pick up whatever files lie there.
    "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
    "--target=bun", entry, "--outfile", out,
  ], { stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) fail("bun build of the CNI plugin failed");
  process.stdout.write(`build: ${out} (${(statSync(out).size / 1e6).toFixed(1)} MB)\n`);
}

const portServerEntry = join(root, "src/lab/kubelet/port-server.ts");
const portServerOut = join(root, "build/weft-port-server");
const portServerNewest = Math.max(statSync(portServerEntry).mtimeMs, statSync(import.meta.filename).mtimeMs);
if (!existsSync(portServerOut) || statSync(portServerOut).mtimeMs < portServerNewest) {
  const r = spawnSync(bunPath(), [
    "build", "--compile", "--minify", "--bytecode",
    "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
    "--target=bun", portServerEntry, "--outfile", portServerOut,
  ], { stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) fail("bun build of the lab's port server failed");
  process.stdout.write(`build: ${portServerOut} (${(statSync(portServerOut).size / 1e6).toFixed(1)} MB)\n`);
}
