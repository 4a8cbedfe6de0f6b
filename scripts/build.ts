/**
 * Builds the self-contained CNI plugin executable, build/weft-cni: the
 * plugin's TypeScript (src/cni/main.ts) bundled into one classic script by
 * bun's bundler, compiled to QuickJS bytecode by qjsc, and linked
 * statically with QuickJS and its host (src/cni/host/host.c, the libc calls
 * the plugin makes): one file of about 2.3 MB that runs on a host with no
 * Node.js, Bun or shared library beyond the kernel, and starts in about
 * 1 ms of CPU. QuickJS comes from scripts/quickjs.sh (fetched and built
 * once into the cache); the C compiler is the system's. Skipped when
 * nothing under src/ (nor this script) is newer.
 *
 * The bundle may load no module at all: the plugin has no platform but its
 * host (src/sys/qjs.ts). The build checks that the source imports none
 * (bundled for bun, which keeps node: imports as requires) and that the
 * script it ships names no Node.js or browser global the host lacks
 * (bundled for the browser, bun puts polyfills in place of node: modules,
 * which would call such globals); it fails otherwise.
 *
 * Also build/weft-port-server, the built-in server of lab containers
 * (src/lab/kubelet/port-server.ts), compiled by `bun build --compile`: a
 * lab node runs one per container of an image outside the lab's catalog,
 * and a compiled one starts in about 4 ms of CPU where Node.js takes about
 * 32 ms (30 such pods starting together are CPU-bound;
 * bench/pod-startup.ts).
 */
import { spawnSync } from "node:child_process";
import { bunPath, newestMtime, root } from "./build-tools.ts";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

const entry = join(root, "src/cni/main.ts");
const host = join(root, "src/cni/host/host.c");
const out = join(root, "build/weft-cni");

function fail(msg: string): never {
  process.stderr.write(`build: ${msg}\n`);
  process.exit(1);
}

/** A failed step of the build, thrown so that what it made is removed on the way out. */
class BuildError extends Error {}

function run(what: string, argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "inherit"] });
  if (r.error) throw new BuildError(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new BuildError(`${what} failed (${argv[0]} exited ${r.status ?? r.signal})`);
  return r.stdout;
}

/**
 * Globals the plugin's script must not name: the host has none of them
 * (process is only env and pid; no timers, console, Buffer or Intl), and
 * the host runs no event loop, so nothing asynchronous would ever finish.
 */
const MISSING_GLOBALS = /\b(?:Buffer|setTimeout|setInterval|setImmediate|console|Intl|performance|structuredClone|fetch|require|process\.(?!env\b|pid\b)\w+|await)\b/g;

/** The modules the plugin's bundle requires at run time (the bundle goes to stdout; nothing is written). */
function bundledModules(bun: string): string[] {
  const js = run("bun build of the CNI plugin bundle", [bun, "build", "--target=bun", "--format=cjs", entry]);
  return [...new Set(Array.from(js.matchAll(/require\("([^"]+)"\)/g), (m) => m[1]!))];
}

const newest = Math.max(newestMtime(join(root, "src")), statSync(import.meta.filename).mtimeMs, statSync(join(root, "scripts/quickjs.sh")).mtimeMs);
if (existsSync(entry) && (!existsSync(out) || statSync(out).mtimeMs < newest)) {
  mkdirSync(join(root, "build"), { recursive: true });
  const tmp = mkdtempSync(join(root, "build/.weft-cni-"));
  try {
    const bun = bunPath();
    const modules = bundledModules(bun);
    if (modules.length > 0) throw new BuildError(`the CNI plugin must load no module, and it loads ${modules.join(", ")}: its only platform is its QuickJS host (see src/cni/main.ts)`);
    const qjs = run("scripts/quickjs.sh", ["sh", join(root, "scripts/quickjs.sh")]).trim();
    const bundle = join(tmp, "plugin.js");
    run("bun build of the CNI plugin", [bun, "build", "--target=browser", "--format=iife", "--minify-syntax", "--minify-whitespace", entry, "--outfile", bundle]);
    const named = [...new Set(Array.from(readFileSync(bundle, "utf8").matchAll(MISSING_GLOBALS), (m) => m[0]))];
    if (named.length > 0) throw new BuildError(`the CNI plugin's script names ${named.join(", ")}, which its QuickJS host does not have (src/sys/qjs.ts says what it has)`);
    const bytecode = join(tmp, "plugin.c");
    // -C: a classic script; -s: no source kept (its stacks are off anyway).
    run("qjsc", [join(qjs, "qjsc"), "-C", "-s", "-N", "weft_plugin", "-o", bytecode, bundle]);
    const exe = join(tmp, "weft-cni");
    run("cc", ["cc", "-std=gnu11", "-O2", "-Wall", "-static", "-I", qjs, "-o", exe, host, bytecode, join(qjs, "libqjs.a"), "-lm"]);
    renameSync(exe, out);
  } catch (err) {
    if (err instanceof BuildError) {
      rmSync(tmp, { recursive: true, force: true });
      fail(err.message);
    }
    throw err;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
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
