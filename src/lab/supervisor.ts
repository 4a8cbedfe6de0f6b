/**
 * A small process supervisor, the lab's stand-in for a DaemonSet controller
 * and kubelet: it runs a fixed set of command lines, appends each one's
 * output to its log, restarts one that exits with exponential backoff, and
 * stops them all on request.
 *
 * Generic on purpose: it knows nothing about namespaces or agents. The lab
 * (lab/daemons.ts) gives it command lines that already start with
 * `ip netns exec NODE`, which execs the command, so the pid it tracks is the
 * agent's own pid.
 *
 * Each child leads its own process group, so stopping a child also stops
 * anything it started.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { signalGroup } from "./procs.ts";

/** One command line to keep running. */
export interface ProcessSpec {
  /** Unique within a supervisor, e.g. "node1-agent". */
  name: string;
  argv: string[];
  /** Added to the supervisor's own environment. */
  env?: Record<string, string>;
  /** Where stdout and stderr are appended. */
  log: string;
}

/** How one supervised process is doing. */
export interface ProcessStatus {
  name: string;
  /** The running pid, or null between a crash and its restart (and after stop). */
  pid: number | null;
  /** How many times it has been started. */
  starts: number;
  /** How the last run ended, or null if it never ended. */
  lastExit: { code: number | null; signal: string | null; at: string } | null;
  log: string;
}

/** Tunables; the defaults suit agents that crash on a bad start. */
export interface SupervisorOptions {
  /** Delay before the first restart (default 200 ms); doubled after each quick crash. */
  minBackoffMs?: number;
  /** The longest delay between restarts (default 10 s). */
  maxBackoffMs?: number;
  /** A process that ran this long before exiting is restarted after minBackoffMs again (default 10 s). */
  healthyAfterMs?: number;
  /** Called after every start and exit with the status of all processes. */
  onChange?: (status: ProcessStatus[]) => void;
}

interface Entry {
  spec: ProcessSpec;
  status: ProcessStatus;
  child: ChildProcess | null;
  startedAt: number;
  backoffMs: number;
  timer: NodeJS.Timeout | null;
}

/** Keeps a set of processes running until stop(). */
export class Supervisor {
  readonly #entries: Entry[];
  readonly #minBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #healthyAfterMs: number;
  readonly #onChange: (status: ProcessStatus[]) => void;
  #stopping: Promise<void> | null = null;

  constructor(specs: readonly ProcessSpec[], options: SupervisorOptions = {}) {
    this.#minBackoffMs = options.minBackoffMs ?? 200;
    this.#maxBackoffMs = options.maxBackoffMs ?? 10_000;
    this.#healthyAfterMs = options.healthyAfterMs ?? 10_000;
    this.#onChange = options.onChange ?? (() => {});
    this.#entries = specs.map((spec) => ({
      spec,
      status: { name: spec.name, pid: null, starts: 0, lastExit: null, log: spec.log },
      child: null,
      startedAt: 0,
      backoffMs: this.#minBackoffMs,
      timer: null,
    }));
  }

  /** Starts every process. */
  start(): void {
    for (const e of this.#entries) this.#launch(e);
  }

  /** A snapshot of every process's status. */
  status(): ProcessStatus[] {
    return this.#entries.map((e) => structuredClone(e.status));
  }

  /**
   * Stops every process: SIGTERM to its process group, SIGKILL after
   * `graceMs` (default 1 s). No restarts happen once called. Idempotent.
   */
  stop(graceMs = 1000): Promise<void> {
    this.#stopping ??= this.#stopAll(graceMs);
    return this.#stopping;
  }

  async #stopAll(graceMs: number): Promise<void> {
    for (const e of this.#entries) {
      if (e.timer) clearTimeout(e.timer);
      e.timer = null;
    }
    const running = this.#entries.filter((e) => e.child?.pid !== undefined);
    const groups = running.map((e) => e.child!.pid!);
    const all = Promise.all(running.map((e) => new Promise<void>((resolve) => e.child!.once("exit", () => resolve()))));
    for (const pid of groups) signalGroup(pid, "SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)));
    const allExited = await Promise.race([all.then(() => true as const), graceOver]);
    clearTimeout(timer);
    if (!allExited) {
      for (const pid of groups) signalGroup(pid, "SIGKILL");
      await all;
    }
    // Whatever the leaders started and left behind in their groups.
    for (const pid of groups) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // The group is empty.
      }
    }
  }

  #launch(e: Entry): void {
    e.timer = null;
    if (this.#stopping) return;
    const [cmd, ...args] = e.spec.argv;
    mkdirSync(dirname(e.spec.log), { recursive: true });
    const fd = openSync(e.spec.log, "a");
    let child: ChildProcess;
    try {
      child = spawn(cmd!, args, {
        detached: true,
        stdio: ["ignore", fd, fd],
        env: e.spec.env ? { ...process.env, ...e.spec.env } : process.env,
      });
    } finally {
      closeSync(fd);
    }
    e.child = child;
    e.startedAt = Date.now();
    e.status.starts++;
    child.once("error", (err) => {
      // The program could not be started; "exit" may not follow.
      appendFileSync(e.spec.log, `supervisor: cannot start ${cmd}: ${err.message}\n`);
      if (e.child === child) this.#exited(e, 127, null);
    });
    child.once("exit", (code, sig) => {
      if (e.child === child) this.#exited(e, code, sig);
    });
    if (child.pid !== undefined) {
      e.status.pid = child.pid;
      appendFileSync(e.spec.log, `supervisor: started ${e.spec.name} as pid ${child.pid} (start ${e.status.starts})\n`);
    }
    this.#onChange(this.status());
  }

  #exited(e: Entry, code: number | null, sig: NodeJS.Signals | null): void {
    e.child = null;
    e.status.pid = null;
    e.status.lastExit = { code, signal: sig, at: new Date().toISOString() };
    if (!this.#stopping) {
      const ranMs = Date.now() - e.startedAt;
      if (ranMs >= this.#healthyAfterMs) e.backoffMs = this.#minBackoffMs;
      const delay = e.backoffMs;
      e.backoffMs = Math.min(e.backoffMs * 2, this.#maxBackoffMs);
      appendFileSync(e.spec.log, `supervisor: ${e.spec.name} exited (${sig ?? `status ${code}`}) after ${ranMs} ms; restarting in ${delay} ms\n`);
      e.timer = setTimeout(() => this.#launch(e), delay);
    }
    this.#onChange(this.status());
  }
}
