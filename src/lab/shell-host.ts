/**
 * A long-lived `sh` that starts short-lived commands for a Node.js process
 * (the lab kubelet), and reports each one's exit status.
 *
 * Why: Node.js starts a child by forking itself and blocks its event loop
 * until the child has exec'd. A lab kubelet holds ~100 MB, so each spawn
 * costs it 2–4 ms of CPU copying page tables, and on a busy machine its
 * event loop stalls far longer, waiting for the child to be scheduled: in
 * a 30-pod burst the kubelets spent most of their time inside spawn
 * (bench/pod-startup.ts, --cpu-prof). A small shell forks cheaply, and
 * the kubelet only writes a line to it.
 *
 * Protocol: each job is one line of shell on the host's stdin, run in the
 * background, its stdin, stdout and stderr in files under `dir` (small,
 * like a CNI plugin's); the host answers with `ID p PID` once the command
 * runs and `ID x STATUS` when it ended, each one short write to a pipe, so
 * lines of concurrent jobs never mix. Every process it starts is its
 * descendant and is reaped (#reapSoon), so no zombie stays, and the CPU
 * they use is counted to the shell, in the kubelet's family, as before.
 *
 * A job's three files belong to a slot, which the next job reuses once the
 * job has ended: truncating a file costs nothing, while making one costs a
 * new inode, and deleting one costs the next inode's search. On an ext4
 * without a journal (this project's CI machine keeps /run on one) the
 * kernel skips every inode freed in the last minutes when it looks for a
 * free one, and a burst of pods made and deleted hundreds of job files:
 * each new file cost 0.3-0.5 ms of kernel time. The caller empties a slot's
 * files before each job, so a job whose redirections fail reads nothing
 * of the job before. A job that outlived its timeout may have left a
 * process writing to its files, so its slot is dropped, not reused; a job
 * that ended but left a child holding its stdout (none of the lab's
 * plugins or tools does) would write into the next job's output.
 *
 * Paths in a job are the caller's, reached through `/proc/CALLER/root`:
 * the host may run in a mount namespace of its own (the node's view, see
 * node-view.ts) where the caller's paths are hidden.
 *
 * Two kinds of job: `run`, a command with its output collected (a CNI
 * plugin, `ip -batch`), and `launch`, a long-lived one in a session of its
 * own with a clean environment and its output appended to a log (a
 * container's launch shell), whose pid is known as soon as it runs.
 *
 * If the shell ends, its pending jobs fail with SHELL_HOST_GONE and the
 * next job starts a new one. `close` ends it on purpose: pending jobs then
 * neither resolve nor fail (a stopping kubelet leaves its containers to the
 * next one, which adopts them by pid).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WeftError } from "../lib/errors.ts";
import type { ExecResult, Runner } from "../kernel/runner.ts";

/** Error code: the host shell ended (or could not start) while a job was pending. */
export const SHELL_HOST_GONE = "SHELL_HOST_GONE";
/** Error code: a job the host will not run (a relative program path, a bad environment variable name). */
export const SHELL_HOST_BAD_JOB = "SHELL_HOST_BAD_JOB";

/** How a job ended. */
export interface JobResult {
  /** Exit status; 128+N when killed by signal N. */
  code: number;
  /** Whether it was sent SIGTERM for outliving its timeout. */
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

/** A launched job: its pid, and its exit status once it ends (128+N when killed by signal N). */
export interface Launched {
  pid: number;
  exited: Promise<number>;
}

interface Pending {
  pid: number | null;
  /** Told the pid once the command runs (launch). */
  onPid?: (pid: number) => void;
  timer: NodeJS.Timeout | null;
  timedOut: boolean;
  resolve: (r: { code: number; timedOut: boolean }) => void;
  reject: (err: Error) => void;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** How long after a job ends the host is asked to reap it, unless another job does first. */
const REAP_AFTER_MS = 200;

/** Quotes `s` for sh. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

export class ShellHost {
  readonly #argv: readonly string[];
  readonly #dir: string;
  #child: ChildProcess | null = null;
  #closed = false;
  #reapTimer: NodeJS.Timeout | null = null;
  #buf = "";
  #next = 0;
  readonly #jobs = new Map<number, Pending>();
  /** Slots whose files a finished job left for the next one; `#slots` numbers new ones. */
  readonly #freeSlots: number[] = [];
  #slots = 0;

  /**
   * `argv` starts the shell and must end in one that reads its script from
   * stdin (`sh -s`); `dir` holds the jobs' files (made if missing).
   */
  constructor(argv: readonly string[], dir: string) {
    this.#argv = argv;
    this.#dir = dir;
  }

  /**
   * Runs `argv` (argv[0] an absolute path) with `env` added to the host's
   * environment (the caller's at the host's start) and `stdin` as its
   * input; SIGTERM after `timeoutMs`.
   */
  async run(argv: readonly string[], env: Readonly<Record<string, string>>, stdin: string, timeoutMs: number): Promise<JobResult> {
    checkArgv(argv);
    const bad = Object.keys(env).find((k) => !ENV_NAME.test(k));
    if (bad !== undefined) throw new WeftError(SHELL_HOST_BAD_JOB, `shell host: "${bad}" is not an environment variable name`);
    const slot = this.#freeSlots.pop() ?? ++this.#slots;
    const base = join(this.#dir, String(slot));
    const files = { in: `${base}.in`, out: `${base}.out`, err: `${base}.err` };
    let reuse = false;
    try {
      if (slot === this.#slots) mkdirSync(this.#dir, { recursive: true });
      writeFileSync(files.in, stdin);
      writeFileSync(files.out, "");
      writeFileSync(files.err, "");
      const assign = Object.entries(env).map(([k, v]) => `${k}=${shq(v)}`);
      const command = [...assign, at(argv[0]!), ...argv.slice(1).map(shq)].join(" ");
      const { code, timedOut } = await this.#job(`${command} <${at(files.in)} >${at(files.out)} 2>${at(files.err)}`, timeoutMs);
      reuse = !timedOut;
      return { code, timedOut, stdout: readText(files.out), stderr: readText(files.err) };
    } finally {
      if (reuse) this.#freeSlots.push(slot);
      else for (const f of Object.values(files)) rmSync(f, { force: true });
    }
  }

  /** Removes the files of the slots no job uses now (a closed host's, or ones left idle). */
  clearSlots(): void {
    for (const slot of this.#freeSlots.splice(0)) {
      for (const ext of ["in", "out", "err"]) rmSync(join(this.#dir, `${slot}.${ext}`), { force: true });
    }
  }

  /**
   * Starts `argv` (argv[0] an absolute path) in a new session (its own
   * process group), with exactly `env`, stdin from /dev/null and its output
   * appended to `log`; resolves once it runs.
   */
  launch(argv: readonly string[], env: Readonly<Record<string, string>>, log: string): Promise<Launched> {
    checkArgv(argv);
    const bad = Object.keys(env).find((k) => k === "" || k.includes("="));
    if (bad !== undefined) throw new WeftError(SHELL_HOST_BAD_JOB, `shell host: "${bad}" is not an environment variable name`);
    // setsid (not a group leader here, so it does not fork) and env exec in turn: the pid stays the command's.
    const command = [SETSID, ENV, "-i", ...Object.entries(env).map(([k, v]) => shq(`${k}=${v}`)), at(argv[0]!), ...argv.slice(1).map(shq)].join(" ");
    return new Promise((resolve, reject) => {
      let running = false;
      const done = this.#job(`${command} </dev/null >>${at(log)} 2>&1`, 0, (pid) => {
        running = true;
        resolve({ pid, exited: done.then((r) => r.code) });
      });
      // A failure before the command runs fails `launch`; one after, `exited`, which its caller handles.
      done.catch((err: unknown) => {
        if (!running) reject(err);
      });
    });
  }

  /** Sends `job` (a simple command with its redirections); resolves with its status. No timeout when `timeoutMs` is 0. */
  #job(job: string, timeoutMs: number, onPid?: (pid: number) => void): Promise<{ code: number; timedOut: boolean }> {
    const child = this.#start();
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      const pending: Pending = { pid: null, timer: null, timedOut: false, resolve, reject, ...(onPid && { onPid }) };
      if (timeoutMs > 0) {
        pending.timer = setTimeout(() => {
          pending.timedOut = true;
          if (pending.pid !== null) kill(pending.pid);
        }, timeoutMs);
      }
      this.#jobs.set(id, pending);
      // The trailing `:` has the shell reap the jobs that ended before it (see #reapSoon).
      child.stdin!.write(`{ ${job} & echo "${id} p $!"; wait $! 2>/dev/null; echo "${id} x $?"; } & :\n`);
    });
  }

  /** Ends the host shell; jobs still running are left to finish. Idempotent. */
  close(): void {
    this.#closed = true;
    this.clearSlots();
    if (this.#reapTimer) clearTimeout(this.#reapTimer);
    for (const job of this.#jobs.values()) if (job.timer) clearTimeout(job.timer);
    this.#jobs.clear();
    this.#child?.stdin?.end();
    this.#child = null;
  }

  #start(): ChildProcess {
    if (this.#closed) throw new WeftError(SHELL_HOST_GONE, `the shell that runs commands (${this.#argv.join(" ")}) was closed`);
    if (this.#child) return this.#child;
    const child = spawn(this.#argv[0]!, this.#argv.slice(1), { stdio: ["pipe", "pipe", "inherit"] });
    this.#child = child;
    child.stdin!.on("error", () => {});
    child.stdin!.write(`H=/proc/${process.pid}/root\n`);
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => this.#read(d));
    const gone = (why: string) => {
      if (this.#child === child) this.#child = null;
      for (const [id, job] of this.#jobs) {
        if (job.timer) clearTimeout(job.timer);
        job.reject(new WeftError(SHELL_HOST_GONE, `the shell that runs commands (${this.#argv.join(" ")}) ${why}`, { hint: "the next command starts a new one" }));
        this.#jobs.delete(id);
      }
    };
    child.once("error", (err) => gone(`could not start: ${err.message}`));
    child.once("exit", (code, sig) => gone(`ended (${sig ?? `status ${code}`})`));
    // Only the pipes keep the host alive; it must not hold the caller's event loop open.
    child.unref();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    return child;
  }

  /**
   * A non-interactive sh reaps a background job that ended only when it
   * runs a command in the foreground; until then the job is a zombie, and
   * the CPU it and its command used is not yet counted to the shell. A `:`
   * after every job does it for the jobs that ended before; this one, sent
   * once the host is quiet for a moment, for the last of them.
   */
  #reapSoon(): void {
    if (this.#reapTimer) clearTimeout(this.#reapTimer);
    this.#reapTimer = setTimeout(() => {
      this.#reapTimer = null;
      this.#child?.stdin?.write(":\n");
    }, REAP_AFTER_MS);
    this.#reapTimer.unref();
  }

  #read(data: string): void {
    this.#buf += data;
    for (let i = this.#buf.indexOf("\n"); i >= 0; i = this.#buf.indexOf("\n")) {
      const [id, kind, value] = this.#buf.slice(0, i).split(" ");
      this.#buf = this.#buf.slice(i + 1);
      const job = this.#jobs.get(Number(id));
      if (!job) continue;
      if (kind === "p") {
        job.pid = Number(value);
        job.onPid?.(job.pid);
        if (job.timedOut) kill(job.pid);
      } else if (kind === "x") {
        if (job.timer) clearTimeout(job.timer);
        this.#jobs.delete(Number(id));
        job.resolve({ code: Number(value), timedOut: job.timedOut });
        this.#reapSoon();
      }
    }
  }
}

/**
 * A Runner (kernel/runner.ts) on a shell host, for kernel tools in the
 * current namespace (the host's); the tool is found on the system's paths.
 */
export function shellRunner(host: ShellHost, timeoutMs: number): Runner {
  return {
    netns: undefined,
    exec: async (argv, input): Promise<ExecResult> => {
      const [tool, ...args] = argv;
      const r = await host.run([systemTool(tool ?? ""), ...args], {}, input ?? "", timeoutMs);
      return { code: r.code, stdout: r.stdout, stderr: r.timedOut ? `${r.stderr}killed by SIGTERM after ${timeoutMs / 1000} s` : r.stderr };
    },
  };
}

const SYSTEM_DIRS = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** The absolute path of a system tool (jobs name programs by path), or `name` when it is not found. */
export function systemTool(name: string): string {
  if (name.startsWith("/")) return name;
  for (const dir of SYSTEM_DIRS) if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  return name;
}

/** Debian's busybox-static (scripts/setup.sh installs it; the busybox image runs Debian 13's, see kubelet/images.ts), or "busybox" when missing. */
export const BUSYBOX = systemTool("busybox");
/** setsid and env for `launch`: busybox's when it is there (static, so no dynamic loader to start). */
const SETSID = BUSYBOX.startsWith("/") ? `${BUSYBOX} setsid` : systemTool("setsid");
const ENV = BUSYBOX.startsWith("/") ? `${BUSYBOX} env` : systemTool("env");

/** A caller's path as a job names it. */
function at(path: string): string {
  return `"$H"${shq(path)}`;
}

function checkArgv(argv: readonly string[]): void {
  if (!argv[0]?.startsWith("/")) throw new WeftError(SHELL_HOST_BAD_JOB, `shell host: "${argv[0] ?? ""}" is not an absolute path`);
}

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    // Already gone.
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
