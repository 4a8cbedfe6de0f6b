/**
 * The one way weft runs kernel tools (`ip`, `bridge`, `nft`, `sysctl`).
 *
 * A Runner is bound to a network namespace. The agent runs inside its node's
 * namespace (`ip netns exec NODE weft agent`), so it uses `createRunner()`,
 * which runs the tools as they are and so acts on the *current* namespace.
 * Tests and the lab pass a namespace name instead; the runner then prefixes
 * `ip netns exec NS` (or, for `ip` and `bridge`, uses their own `-n NS`,
 * which saves an exec). Either way the child process is what enters the
 * namespace: this process never switches namespaces (STYLE rule 5).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { WeftError } from "../lib/errors.ts";

/** What a finished command left behind. */
export interface ExecResult {
  /** Exit status; non-zero is returned, not thrown, so callers can read stderr. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kernel tools in one network namespace. */
export interface Runner {
  /** The namespace the commands act on; undefined means the current one. */
  readonly netns: string | undefined;
  /**
   * Runs `argv` with `input` on stdin. Resolves for any exit status; rejects
   * (KERNEL_TOOL_MISSING) only when the program cannot be started.
   * `onSpawn` hears the process id as soon as it runs (e.g. to recognise
   * the process's own changes in `nft monitor`).
   */
  exec(argv: readonly string[], input?: string, onSpawn?: (pid: number) => void): Promise<ExecResult>;
  /**
   * Starts `argv` as a long-lived process in the runner's namespace, with
   * stdin and stdout piped and stderr ignored (e.g. one `nft -i` that many
   * transactions go through). Runners that act on no real kernel (the
   * tests' FakeRunner) leave it out, and their callers go through exec.
   */
  start?(argv: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess;
}

/** Error code: a kernel tool exited non-zero. */
export const KERNEL_COMMAND_FAILED = "KERNEL_COMMAND_FAILED";
/** Error code: a kernel tool is not installed. */
export const KERNEL_TOOL_MISSING = "KERNEL_TOOL_MISSING";

/** Tools that take the namespace as their own `-n NS` option. */
const NETNS_AWARE = new Set(["ip", "bridge"]);

/** A Runner for `netns` (a name under /run/netns), or for the current namespace when omitted. */
export function createRunner(netns?: string): Runner {
  return {
    netns,
    exec: (argv, input, onSpawn) => spawnCollect(inNetns(netns, argv), input, onSpawn),
    start: (argv, env) => {
      const full = inNetns(netns, argv);
      return spawn(full[0]!, full.slice(1), { stdio: ["pipe", "pipe", "ignore"], env: env ?? process.env });
    },
  };
}

/** The argv that runs `argv` in `netns` (unchanged when undefined). */
export function inNetns(netns: string | undefined, argv: readonly string[]): readonly string[] {
  const [tool, ...args] = argv;
  if (tool === undefined) throw new Error("empty argv");
  if (netns === undefined) return argv;
  return NETNS_AWARE.has(tool) ? [tool, "-n", netns, ...args] : ["ip", "netns", "exec", netns, ...argv];
}

function spawnCollect(argv: readonly string[], input: string | undefined, onSpawn?: (pid: number) => void): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    // `ip netns exec` execs the tool, so the pid is the tool's.
    if (child.pid !== undefined) onSpawn?.(child.pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e: NodeJS.ErrnoException) => {
      reject(
        e.code === "ENOENT"
          ? new WeftError(KERNEL_TOOL_MISSING, `cannot run "${argv[0]}": not installed`, {
              hint: "install iproute2, nftables and procps (scripts/setup.sh does)",
              cause: e,
            })
          : e,
      );
    });
    child.on("close", (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
    // A tool that exits before reading stdin closes the pipe; that is not our error.
    child.stdin.on("error", () => {});
    child.stdin.end(input ?? "");
  });
}

/** Runs `argv` and returns its stdout; throws KERNEL_COMMAND_FAILED with the tool's stderr otherwise. */
export async function run(runner: Runner, argv: readonly string[], input?: string, onSpawn?: (pid: number) => void): Promise<string> {
  const r = await runner.exec(argv, input, onSpawn);
  if (r.code !== 0) throw commandFailed(runner, argv, r);
  return r.stdout;
}

/** Runs a read command that prints JSON (`ip -j …`, `bridge -j …`) and parses it. */
export async function readJson<T>(runner: Runner, argv: readonly string[]): Promise<T> {
  const text = await run(runner, argv);
  // `ip -j` prints nothing at all for some empty listings.
  return (text.trim() === "" ? [] : JSON.parse(text)) as T;
}

/** The KERNEL_COMMAND_FAILED error for a finished command. */
function commandFailed(runner: Runner, argv: readonly string[], r: ExecResult): WeftError {
  const where = runner.netns === undefined ? "" : ` in netns ${runner.netns}`;
  const why = r.stderr.trim().split("\n").join("; ") || `exit status ${r.code}`;
  return new WeftError(KERNEL_COMMAND_FAILED, `"${argv.join(" ")}"${where} failed: ${why}`);
}

/** True when a tool's error says the object is not there (what a removal may safely ignore). */
export function isAbsent(stderr: string): boolean {
  return /No such process|No such file or directory|Cannot find device|does not exist/.test(stderr);
}
