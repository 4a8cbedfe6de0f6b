/**
 * CPU time by process family, from /proc, for benchmarks that ask where a
 * burst's CPU went. A process's utime+stime+cutime+cstime is its own CPU and
 * that of every child it has reaped (which holds its own reaped children in
 * turn), so summing those four over a family's live processes counts each
 * process that ever ran in it once: the live ones, and the finished ones
 * through whoever reaped them. A process orphaned to init is lost to the
 * family; the lab's processes wait for their children.
 *
 * Two snapshots, taken before and after a burst, give each family's CPU
 * during it; `diff` sums by the label a classifier gives each process.
 */
import { readdirSync, readFileSync } from "node:fs";

/** CPU ticks per second (USER_HZ: 100 on every Linux that Node.js runs on). */
const TICKS_PER_S = 100;

/** One process as /proc tells it. */
export interface ProcCpu {
  pid: number;
  ppid: number;
  comm: string;
  /** utime+stime, in ms. */
  selfMs: number;
  /** cutime+cstime (reaped children), in ms. */
  childrenMs: number;
  /** Start time since boot, in ticks: with the pid, names a process for good. */
  start: number;
  /** Its argv ("" for a zombie or kernel thread). */
  argv: string[];
}

/** Every process now, by pid. Processes that end while being read are skipped. */
export function snapshot(): Map<number, ProcCpu> {
  const out = new Map<number, ProcCpu>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    // comm may hold spaces and parentheses: the fields after it follow the last ")".
    const close = text.lastIndexOf(")");
    const f = text.slice(close + 2).split(" ");
    const tick = 1000 / TICKS_PER_S;
    out.set(Number(name), {
      pid: Number(name),
      comm: text.slice(text.indexOf("(") + 1, close),
      ppid: Number(f[1]),
      selfMs: (Number(f[11]) + Number(f[12])) * tick,
      childrenMs: (Number(f[13]) + Number(f[14])) * tick,
      start: Number(f[19]),
      argv: readArgv(Number(name)),
    });
  }
  return out;
}

/** The pids of `root` and all its live descendants in `procs`. */
export function family(procs: ReadonlyMap<number, ProcCpu>, root: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of procs.values()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const out: number[] = [];
  for (let todo = [root]; todo.length > 0; ) {
    const pid = todo.pop()!;
    if (!procs.has(pid)) continue;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * A process's share to count under a label: its own CPU, and its reaped
 * children's under `childrenLabel` (the same label when omitted).
 */
export interface Share {
  label: string;
  childrenLabel?: string;
}

/**
 * CPU in ms by label between two snapshots: each process in `after` that
 * `classify` labels counts what it used since `before` (all of it when it
 * started after `before`). Labels appear in the order first returned.
 */
export function diff(before: ReadonlyMap<number, ProcCpu>, after: ReadonlyMap<number, ProcCpu>, classify: (p: ProcCpu) => Share | null): Map<string, number> {
  const out = new Map<string, number>();
  const add = (label: string, ms: number) => out.set(label, (out.get(label) ?? 0) + ms);
  for (const p of after.values()) {
    const share = classify(p);
    if (share === null) continue;
    const old = before.get(p.pid);
    const same = old !== undefined && old.start === p.start;
    add(share.label, p.selfMs - (same ? old.selfMs : 0));
    add(share.childrenLabel ?? share.label, p.childrenMs - (same ? old.childrenMs : 0));
  }
  return out;
}

function readArgv(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
  } catch {
    return [];
  }
}

/**
 * The machine's busy CPU time since boot, in ms, from /proc/stat's first
 * line: user, nice, system, irq, softirq and steal over every CPU (idle and
 * iowait left out). Two readings around a burst give all the CPU it took,
 * kernel threads (a namespace's teardown, softirqs) included.
 */
export function machineBusyMs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * (1000 / TICKS_PER_S);
}
