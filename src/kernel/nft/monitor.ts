/**
 * Notices when someone else changes an nftables table: a long-running
 * `nft monitor` in the table's namespace reports every committed batch,
 * each followed by "# new generation N by process PID (COMM)". A batch that
 * touches the table and was not made by one of the owner's own nft
 * processes (whose pids the owner registers with `own`) is drift, reported
 * at once instead of at the next periodic resync; checking costs nothing
 * while nothing changes.
 *
 * If the monitor process dies it is started again after a second (doubling
 * to 30 s), and the owner is told (a change may have gone unseen meanwhile).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { inNetns } from "../runner.ts";
import type { NftTable } from "./objects.ts";

export interface TableMonitorOptions {
  table: NftTable;
  /** The namespace to watch; undefined: this process's. */
  netns: string | undefined;
  /** Called for a foreign change (and after the monitor restarts). Cheap to call often: the owner coalesces. */
  onDrift: (why: string) => void;
  log: (line: string) => void;
}

/** How many of the owner's recent pids are remembered. */
const OWN_PIDS = 64;

export class TableMonitor {
  readonly #o: TableMonitorOptions;
  readonly #own: number[] = [];
  #child: ChildProcess | undefined;
  /** The current batch's first line touching the table, and how many did. */
  #first = "";
  #count = 0;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #needle: string;

  constructor(o: TableMonitorOptions) {
    this.#o = o;
    this.#needle = ` ${o.table.family} ${o.table.name}`;
  }

  /** `own`, bound: what an owner hands applyTransaction as its spawn hook. */
  readonly ownSpawn = (pid: number): void => this.own(pid);

  /** Registers one of the owner's nft processes; its batches are not drift. */
  own(pid: number): void {
    // A long-lived writer (session.ts) registers its pid for every transaction: keep it once, as the newest.
    const at = this.#own.indexOf(pid);
    if (at >= 0) this.#own.splice(at, 1);
    this.#own.push(pid);
    if (this.#own.length > OWN_PIDS) this.#own.shift();
  }

  start(): void {
    if (this.#stopped || this.#child) return;
    // A shell holds the monitor and ends it when its stdin closes: on stop(),
    // and also when this process dies without stopping it (nft monitor itself
    // would live on, keeping a deleted namespace alive).
    const argv = inNetns(this.#o.netns, ["sh", "-c", "nft monitor & trap 'kill $! 2>/dev/null' EXIT; read _"]);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    this.#child = child;
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-500)));
    createInterface({ input: child.stdout! }).on("line", (line) => this.#line(line));
    child.on("error", () => {}); // reported through "close"
    child.on("close", (code) => {
      this.#child = undefined;
      if (this.#stopped) return;
      const delay = Math.min(1000 * 2 ** this.#failures++, 30_000);
      this.#o.log(`nft monitor exited (${code ?? "signal"}${err.trim() ? `: ${err.trim()}` : ""}); restarting it in ${delay} ms`);
      this.#timer = setTimeout(() => {
        this.start();
        this.#o.onDrift("the table monitor restarted");
      }, delay);
    });
  }

  #line(line: string): void {
    const gen = /^# new generation \d+ by process (\d+)/.exec(line);
    if (!gen) {
      if (line.includes(this.#needle) && this.#count++ === 0) this.#first = line;
      return;
    }
    this.#failures = 0;
    const [first, count] = [this.#first, this.#count];
    this.#count = 0;
    if (count === 0 || this.#own.includes(Number(gen[1]))) return;
    this.#o.onDrift(`process ${gen[1]} changed table ${this.#o.table.family} ${this.#o.table.name}: ${first}${count > 1 ? ` (+${count - 1} more)` : ""}`);
  }

  /** Stops watching; idempotent. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#child?.stdin?.end();
    this.#child = undefined;
  }
}

/**
 * The monitor every table owner runs: a foreign change, once the owner has
 * applied its table, is logged and answered with a whole sync (`resync`).
 */
export function watchTableDrift(o: { table: NftTable; netns: string | undefined; log: (line: string) => void; applied: () => boolean; resync: () => void }): TableMonitor {
  return new TableMonitor({
    table: o.table,
    netns: o.netns,
    log: o.log,
    onDrift: (why) => {
      if (!o.applied()) return;
      o.log(`drift: ${why}; syncing the table whole`);
      o.resync();
    },
  });
}
