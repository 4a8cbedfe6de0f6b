/**
 * Builds weft's two small executables, each one file that runs on a host
 * with no Node.js, Bun or shared library, and starts in about 1 ms of CPU:
 *
 *   build/weft-cni           the CNI plugin (src/cni/main.ts)
 *   build/weft-port-server   the built-in server of lab containers
 *                            (src/lab/kubelet/port-server.ts): a lab node
 *                            runs one per container of an image outside
 *                            the lab's catalog, so 30 pods started together
 *                            start 30 (bench/pod-startup.ts)
 *
 * Each is its TypeScript bundled into one classic script by bun's bundler,
 * compiled to QuickJS bytecode by qjsc, and linked statically with QuickJS
 * and its host (src/sys/qjs-host.c, the libc calls the programs make): about
 * 2.3-2.4 MB. QuickJS comes from scripts/quickjs.sh (fetched and built once
 * into the cache); the C compiler is the system's. Each is skipped when
 * nothing it is built from is newer.
 *
 * A bundle may load no module at all: the programs have no platform but
 * their host (src/sys/qjs-host.ts). The build checks that the source
 * imports none (bundled for bun, which keeps node: imports as requires) and
 * that the script it ships names no Node.js or browser global the host
 * lacks (bundled for the browser, bun puts polyfills in place of node:
 * modules, which would call such globals); it fails otherwise.
 */
import { spawnSync } from "node:child_process";
import { bunPath, newestMtime, root } from "./build-tools.ts";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

const host = join(root, "src/sys/qjs-host.c");

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
 * Globals a program's script must not name: the host has none of them
 * (process is only env and pid; no timers, console, Buffer or Intl), and
 * the host runs no event loop, so nothing asynchronous would ever finish.
 */
const MISSING_GLOBALS = /\b(?:Buffer|setTimeout|setInterval|setImmediate|console|Intl|performance|structuredClone|fetch|require|process\.(?!env\b|pid\b)\w+|await)\b/g;

/** The modules a bundle requires at run time (the bundle goes to stdout; nothing is written). */
function bundledModules(bun: string, entry: string): string[] {
  const js = run(`bun build of ${entry}`, [bun, "build", "--target=bun", "--format=cjs", entry]);
  return [...new Set(Array.from(js.matchAll(/require\("([^"]+)"\)/g), (m) => m[1]!))];
}

interface Program {
  /** What it is, for messages. */
  what: string;
  entry: string;
  out: string;
  /** C defines for the host (-D). */
  defines: string[];
}

/** The QuickJS engine's directory (scripts/quickjs.sh, which fetches and builds it the first time). */
let quickjsDir: string | undefined;
const quickjs = () => (quickjsDir ??= run("scripts/quickjs.sh", ["sh", join(root, "scripts/quickjs.sh")]).trim());

/** Builds one program into its executable, unless it is newer than everything it is built from (`newest`). */
function build(p: Program, newest: number): void {
  if (existsSync(p.out) && statSync(p.out).mtimeMs >= newest) return;
  mkdirSync(join(root, "build"), { recursive: true });
  const tmp = mkdtempSync(join(root, "build/.qjs-"));
  try {
    const bun = bunPath();
    const modules = bundledModules(bun, p.entry);
    if (modules.length > 0) throw new BuildError(`${p.what} must load no module, and it loads ${modules.join(", ")}: its only platform is its QuickJS host (src/sys/qjs-host.ts)`);
    const bundle = join(tmp, "program.js");
    run(`bun build of ${p.what}`, [bun, "build", "--target=browser", "--format=iife", "--minify-syntax", "--minify-whitespace", p.entry, "--outfile", bundle]);
    const named = [...new Set(Array.from(readFileSync(bundle, "utf8").matchAll(MISSING_GLOBALS), (m) => m[0]))];
    if (named.length > 0) throw new BuildError(`${p.what}'s script names ${named.join(", ")}, which its QuickJS host does not have (src/sys/qjs-host.ts says what it has)`);
    const bytecode = join(tmp, "program.c");
    const qjs = quickjs();
    // -C: a classic script; -s: no source kept (stacks are not printed).
    run("qjsc", [join(qjs, "qjsc"), "-C", "-s", "-N", "weft_program", "-o", bytecode, bundle]);
    const exe = join(tmp, "program");
    run("cc", ["cc", "-std=gnu11", "-O2", "-Wall", "-static", ...p.defines.map((d) => `-D${d}`), "-I", qjs, "-o", exe, host, bytecode, join(qjs, "libqjs.a"), "-lm"]);
    renameSync(exe, p.out);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  process.stdout.write(`build: ${p.out} (${(statSync(p.out).size / 1e6).toFixed(1)} MB)\n`);
}

// Both are built from src/ (the plugin from most of it, the port server from the host and its own file) and these scripts.
const newest = Math.max(newestMtime(join(root, "src")), ...[import.meta.filename, join(root, "scripts/quickjs.sh"), join(root, "scripts/build-tools.ts")].map((f) => statSync(f).mtimeMs));
const programs: Program[] = [
  { what: "the CNI plugin", entry: join(root, "src/cni/main.ts"), out: join(root, "build/weft-cni"), defines: ["WEFT_CNI_PLUGIN"] },
  { what: "the lab's port server", entry: join(root, "src/lab/kubelet/port-server.ts"), out: join(root, "build/weft-port-server"), defines: [] },
];
try {
  for (const p of programs) build(p, newest);
} catch (err) {
  // After build()'s finally: what a failed step made is gone.
  if (err instanceof BuildError) fail(err.message);
  throw err;
}
