/**
 * Scratch space for the agent, throughput and lab benchmarks: network
 * namespaces, child processes, temporary directories and extra clean-up
 * steps that go away when the bench ends — normally, by an exception, or by
 * SIGINT/SIGTERM/SIGHUP (then the process exits with 128 + signal number
 * after cleaning up). Never touches the host's own namespace: every
 * namespace is created here, under a prefix that carries the process id.
 *
 * Clean-up is synchronous (kill, then one `ip -force -batch` of
 * `netns del`), so it also runs from a signal handler.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const live = new Set<Scratch>();
let handlersInstalled = false;

/** Disposes of every live Scratch on a terminating signal, then exits. */
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const signals: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };
  for (const [signal, number] of Object.entries(signals)) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}: cleaning up\n`);
      for (const s of live) s.dispose();
      process.exit(128 + number);
    });
  }
}

/** Runs `ip -batch -` (with `-force` so one failed line does not stop the rest); throws with stderr on failure. */
export function ipBatch(lines: readonly string[], netns?: string, force = false): void {
  if (lines.length === 0) return;
  const argv = [...(netns ? ["-n", netns] : []), ...(force ? ["-force"] : []), "-batch", "-"];
  const r = spawnSync("ip", argv, { input: lines.join("\n") + "\n", encoding: "utf8" });
  if (r.status !== 0 && !force) throw new Error(`ip ${argv.join(" ")} failed: ${r.stderr.trim()}`);
}

/** One bench's throw-away resources. */
export class Scratch {
  /** Namespace names start with this: `<tag><pid>-`. */
  readonly prefix: string;
  readonly #namespaces: string[] = [];
  readonly #children = new Set<ChildProcess>();
  readonly #dirs: string[] = [];
  readonly #atExit: (() => void)[] = [];

  /** `tag` is a few letters naming the bench; keep it short (namespace names end up in `ip` output). */
  constructor(tag: string) {
    this.prefix = `${tag}${process.pid}-`;
    live.add(this);
    installHandlers();
  }

  /** Creates namespaces `<prefix><name>` in one batch, loopback up; returns their names in order. */
  addNamespaces(names: readonly string[]): string[] {
    const full = names.map((n) => `${this.prefix}${n}`);
    this.#namespaces.push(...full);
    ipBatch(full.map((ns) => `netns add ${ns}`));
    for (const ns of full) ipBatch(["link set lo up"], ns);
    return full;
  }

  /**
   * Deletes namespaces made by this Scratch (after killing what runs in
   * them); gone ones are fine. Each one the batch left is tried once more on
   * its own, and reported on stderr if it still exists.
   */
  removeNamespaces(full: readonly string[]): void {
    ipBatch(full.map((ns) => `netns del ${ns}`), undefined, true);
    for (const ns of full.filter((n) => existsSync(`/run/netns/${n}`))) {
      const r = spawnSync("ip", ["netns", "del", ns], { encoding: "utf8" });
      if (existsSync(`/run/netns/${ns}`)) process.stderr.write(`bench: cannot delete namespace ${ns}: ${r.stderr.trim()}\n`);
    }
    for (const ns of full) {
      const i = this.#namespaces.indexOf(ns);
      if (i >= 0) this.#namespaces.splice(i, 1);
    }
  }

  /** A new temporary directory, removed at the end. */
  tempDir(tag: string): string {
    const dir = mkdtempSync(join(tmpdir(), `weft-bench-${tag}-`));
    this.#dirs.push(dir);
    return dir;
  }

  /** Spawns a child that is killed (SIGKILL) at the end unless it exited before. */
  spawn(argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn(argv[0]!, argv.slice(1), options);
    this.#children.add(child);
    child.once("exit", () => this.#children.delete(child));
    return child;
  }

  /** Registers a synchronous step to run at the end, before namespaces are deleted (e.g. `lab down`). */
  atExit(fn: () => void): void {
    this.#atExit.push(fn);
  }

  /** Kills the children, runs the at-exit steps, deletes the namespaces and directories. Safe to call twice. */
  dispose(): void {
    live.delete(this);
    for (const c of this.#children) c.kill("SIGKILL");
    this.#children.clear();
    for (const fn of this.#atExit.splice(0)) {
      try {
        fn();
      } catch (err) {
        process.stderr.write(`bench: clean-up step failed: ${(err as Error).message}\n`);
      }
    }
    this.removeNamespaces([...this.#namespaces]);
    for (const d of this.#dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}
