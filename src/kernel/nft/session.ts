/**
 * A long-lived nft process for small transactions: `nft -i` in the
 * runner's namespace, fed one transaction per line.
 *
 * Why not one `nft -f -` per transaction: a fresh nft costs ~6 ms to start
 * and list the table, and when it exits after a transaction that deleted
 * anything (an element, a rule, a chain) the kernel makes the closing of its
 * netlink socket wait for the deleted objects' RCU grace period, 8–15 ms
 * more on a busy machine. A process that stays keeps its socket, so a
 * one-element change costs about a millisecond.
 *
 * How it stays a transaction: nft -i runs each input line as one batch, and
 * a line may hold several commands separated by `;`, so a transaction
 * rendered on one line is applied whole or not at all, as with `nft -f`.
 * How its outcome is known: nft -i prints errors (on stderr, merged here
 * into stdout so their order holds) and nothing on success; after each
 * transaction a marker line that nft cannot parse follows, and the error
 * nft prints for it, echoing the marker, ends the transaction's output.
 * Anything before it is the transaction's error.
 *
 * Through `nft -f -` instead, as before: scripts larger than
 * `maxScriptBytes` (full syncs, large changes; nft -i reads a byte per
 * system call, and at that size the process start is noise), scripts with
 * characters a single line cannot carry, and every script once nft has
 * said it was built without its interactive CLI.
 *
 * The process is replaced after `recycleBytes` of input (nft -i keeps every
 * line in its history) and when it dies (the transaction in flight fails;
 * the next one starts a new process). warm() starts it ahead of the first
 * transaction; close() ends it (EOF on its stdin, which also ends it when
 * this process dies).
 */
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { WeftError } from "../../lib/errors.ts";
import { applyNft } from "../nft.ts";
import { KERNEL_COMMAND_FAILED, KERNEL_TOOL_MISSING, type Runner } from "../runner.ts";
import type { NftTransaction } from "./transaction.ts";

export interface NftSessionOptions {
  /**
   * Scripts up to this size (bytes) go through the session; larger ones spawn
   * `nft -f -`. nft -i reads its input a byte per read(2), about 1 µs a byte,
   * so beyond a few KiB a fresh `nft -f -` (~6 ms, reading in blocks) is as
   * fast. Default 8,192.
   */
  maxScriptBytes?: number;
  /** A session that has been fed this many bytes is replaced (after the transaction that passed it). Default 1 MiB. */
  recycleBytes?: number;
}

interface Pending {
  child: ChildProcess;
  marker: string;
  commands: string[];
  lines: string[];
  /** The marker's own error line was seen; the next line is its caret line. */
  ended: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Thrown inside the session when nft has no interactive mode; the transaction then goes through `nft -f -`. */
class CliMissing extends Error {}

/** How long a transaction may take before the process is deemed stuck and killed. */
const ANSWER_TIMEOUT_MS = 60_000;

/** The longest command text an error quotes. */
const QUOTE_MAX = 300;

export class NftSession {
  readonly #runner: Runner;
  readonly #maxScriptBytes: number;
  readonly #recycleBytes: number;
  #child: ChildProcess | undefined;
  #fed = 0;
  #seq = 0;
  #pending: Pending | undefined;
  /** Transactions run one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(runner: Runner, o: NftSessionOptions = {}) {
    this.#runner = runner;
    this.#maxScriptBytes = o.maxScriptBytes ?? 8192;
    this.#recycleBytes = o.recycleBytes ?? 2 ** 20;
  }

  /**
   * Applies `tx` whole or not at all; does nothing for an empty one. Throws
   * KERNEL_COMMAND_FAILED with nft's message (naming the refused command).
   * `onSpawn` hears the pid of the nft process that applies it.
   */
  apply(tx: NftTransaction, onSpawn?: (pid: number) => void): Promise<void> {
    const script = tx.render();
    if (script === "") return Promise.resolve();
    const run = this.#queue.then(() => this.#apply(script, onSpawn));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Starts the nft process now, so that the first transaction does not wait for it (~20 ms). */
  warm(): void {
    if (!this.#closed && !this.#child && this.#runner.start !== undefined) this.#start();
  }

  /** Ends the nft process; later transactions spawn `nft -f -`. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#end();
  }

  async #apply(script: string, onSpawn?: (pid: number) => void): Promise<void> {
    if (this.#closed || this.#runner.start === undefined || Buffer.byteLength(script) > this.#maxScriptBytes || /[#\\\r]/.test(script)) {
      await applyNft(this.#runner, script, onSpawn);
      return;
    }
    try {
      await this.#viaSession(script, onSpawn);
    } catch (err) {
      if (!(err instanceof CliMissing)) throw err;
      // This nft has no -i (built without its CLI): it exited before reading anything.
      await applyNft(this.#runner, script, onSpawn);
    }
  }

  async #viaSession(script: string, onSpawn?: (pid: number) => void): Promise<void> {
    const child = this.#child ?? this.#start();
    const commands = script.trimEnd().split("\n");
    const marker = `weft-transaction-end ${++this.#seq}`;
    const line = commands.join("; ");
    this.#fed += line.length + marker.length + 2;
    if (child.pid !== undefined) onSpawn?.(child.pid);
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.#pending = { child, marker, commands, lines: [], ended: false, resolve, reject };
        child.stdin!.write(`${line}\n${marker}\n`);
        timer = setTimeout(() => {
          this.#fail(child, new WeftError(KERNEL_COMMAND_FAILED, `"nft -i" gave no answer to a transaction within ${ANSWER_TIMEOUT_MS / 1000} s; killed it, whether the transaction was applied is unknown`));
          child.kill("SIGKILL");
        }, ANSWER_TIMEOUT_MS);
      });
    } finally {
      clearTimeout(timer);
    }
    // Replaced now rather than before the next transaction, which would wait for the start.
    if (this.#fed > this.#recycleBytes) {
      this.#end();
      this.warm();
    }
  }

  #start(): ChildProcess {
    // HOME=/dev/null: nft -i reads and writes its history under $HOME; there it can do neither.
    // Only a runner that can start processes gets here (#apply): a fake one acts on no kernel.
    const argv = this.#runner.netns === undefined ? ["sh"] : ["ip", "netns", "exec"];
    const child = this.#runner.start!(["sh", "-c", "exec nft -i 2>&1"], { ...process.env, HOME: "/dev/null" });
    this.#child = child;
    this.#fed = 0;
    let tail = "";
    createInterface({ input: child.stdout! }).on("line", (l) => {
      tail = (tail + l + "\n").slice(-500);
      this.#line(child, l);
    });
    child.stdin!.on("error", () => {}); // reported through "close"
    child.on("error", (e: NodeJS.ErrnoException) => {
      this.#fail(
        child,
        e.code === "ENOENT"
          ? new WeftError(KERNEL_TOOL_MISSING, `cannot run "${argv[0]}": not installed`, { hint: "install iproute2 and nftables (scripts/setup.sh does)", cause: e })
          : e,
      );
    });
    child.on("close", (code, signal) => {
      if (/interactive CLI not supported/.test(tail)) {
        this.#closed = true; // for good: every transaction spawns `nft -f -`
        this.#fail(child, new CliMissing());
        return;
      }
      const where = this.#runner.netns === undefined ? "" : ` in netns ${this.#runner.netns}`;
      const said = this.#pending?.child === child ? this.#pending.lines.join("; ") : "";
      this.#fail(child, new WeftError(KERNEL_COMMAND_FAILED, `"nft -i"${where} exited (${signal ?? `status ${code}`}) during a transaction${said ? `: ${said}` : ""}; whether it was applied is unknown`));
    });
    return child;
  }

  #line(child: ChildProcess, raw: string): void {
    const p = this.#pending;
    if (p?.child !== child) return;
    const text = raw.replace(/^(nft> )+/, "");
    if (p.ended) {
      // The caret line under the marker: the transaction's output is complete.
      this.#pending = undefined;
      const error = errorText(p.lines, p.commands);
      if (error === undefined) p.resolve();
      else p.reject(this.#failed(error));
      return;
    }
    if (text.trimEnd() === p.marker) {
      p.lines.pop(); // the marker's "Error: syntax error" line
      p.ended = true;
      return;
    }
    p.lines.push(text);
  }

  #failed(why: string): WeftError {
    const where = this.#runner.netns === undefined ? "" : ` in netns ${this.#runner.netns}`;
    return new WeftError(KERNEL_COMMAND_FAILED, `"nft -i"${where} refused a transaction: ${why}`);
  }

  #fail(child: ChildProcess, err: Error): void {
    if (this.#child === child) this.#child = undefined;
    const p = this.#pending;
    if (p?.child !== child) return;
    this.#pending = undefined;
    p.reject(err);
  }

  #end(): void {
    const child = this.#child;
    this.#child = undefined;
    child?.stdin?.end();
  }
}

/**
 * nft's error output for a one-line transaction, as one line: each
 * "Error:" with the command its carets point at (the echoed line is the
 * whole transaction), or undefined when nft printed nothing.
 */
function errorText(lines: readonly string[], commands: readonly string[]): string | undefined {
  if (lines.every((l) => l.trim() === "")) return undefined;
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (!/Error:/.test(l)) continue;
    const carets = lines[i + 2];
    const col = carets === undefined ? -1 : carets.search(/\^/);
    const cmd = col < 0 ? undefined : commandAt(commands, col);
    out.push(cmd === undefined ? l.trim() : `${l.trim()} in: ${cmd.length > QUOTE_MAX ? `${cmd.slice(0, QUOTE_MAX)}…` : cmd}`);
  }
  return out.length ? out.join("; ") : lines.filter((l) => l.trim() !== "").join("; ");
}

/** The command of `commands` (joined by "; ") that covers column `col`. */
function commandAt(commands: readonly string[], col: number): string | undefined {
  let start = 0;
  for (const c of commands) {
    if (col < start + c.length + 2) return c;
    start += c.length + 2;
  }
  return undefined;
}
