/**
 * Finding and stopping the lab's processes through /proc, without spawning
 * anything: a process belongs to a lab namespace when its /proc/PID/ns/net
 * is the same nsfs inode as /run/netns/NS.
 *
 * A killed process whose parent does not reap it stays a zombie; it holds no
 * namespace and runs nothing, so it counts as gone here (kill(pid, 0) would
 * still succeed on it).
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { sleep } from "../lib/sleep.ts";

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  // "PID (COMM) STATE ..." — COMM may contain spaces and parentheses.
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/** The fields of /proc/PID/stat after "PID (COMM)", from field 3 (state) on, or undefined when it is gone. */
function statFields(pid: number | string): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/**
 * When `pid` started, in clock ticks after boot (field 22 of /proc/PID/stat),
 * or undefined when it is gone. With the pid it names one process for good:
 * a pid reused later comes with a later start time.
 */
export function startTime(pid: number): number | undefined {
  const start = statFields(pid)?.[19];
  return start === undefined ? undefined : Number(start);
}

/** Processes to find: those in process group `pgid` or network namespace `netnsInode`, started at or after `notBefore`. */
export interface ProcessMatch {
  pgid?: number | undefined;
  /** The nsfs inode of a network namespace, which stays the same while any process holds it, named or not. */
  netnsInode?: number | undefined;
  /** A start time (see startTime); default 0. */
  notBefore?: number | undefined;
}

/** The live processes any of `matches` finds (one pass over /proc). */
export function findProcesses(matches: readonly ProcessMatch[]): number[] {
  if (matches.length === 0) return [];
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields === undefined || fields[0] === "Z" || fields[0] === "X") continue;
    const pgid = Number(fields[2]);
    const start = Number(fields[19]);
    let net: string | undefined;
    const netOf = () => {
      try {
        net ??= readlinkSync(`/proc/${entry}/ns/net`);
      } catch {
        net = "";
      }
      return net;
    };
    const hit = matches.some((m) =>
      start >= (m.notBefore ?? 0) && ((m.pgid !== undefined && m.pgid === pgid) || (m.netnsInode !== undefined && netOf() === `net:[${m.netnsInode}]`)),
    );
    if (hit) found.push(Number(entry));
  }
  return found;
}

/** The argv of `pid`, or [] when it is gone. */
export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
  } catch {
    return [];
  }
}

/** The pids living in each of the named network namespaces (names under /run/netns). */
export function pidsInNamespaces(names: readonly string[]): Map<string, number[]> {
  const byInode = new Map<string, string>();
  for (const name of names) {
    try {
      byInode.set(`net:[${statSync(`/run/netns/${name}`).ino}]`, name);
    } catch {
      // Already deleted.
    }
  }
  const found = new Map<string, number[]>(names.map((n) => [n, []]));
  if (byInode.size === 0) return found;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let link: string;
    try {
      link = readlinkSync(`/proc/${entry}/ns/net`);
    } catch {
      continue;
    }
    const ns = byInode.get(link);
    if (ns !== undefined) found.get(ns)!.push(Number(entry));
  }
  return found;
}

/**
 * True when a TCP socket listens on `port` in the network namespace of
 * `pid` (read from /proc/PID/net/tcp, which shows that process's namespace).
 */
export function listensOnTcp(pid: number, port: number): boolean {
  let table: string;
  try {
    table = readFileSync(`/proc/${pid}/net/tcp`, "utf8");
  } catch {
    return false;
  }
  const local = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  // "sl local_address rem_address st ...": state 0A is LISTEN.
  return table.split("\n").some((line) => {
    const [, address, , state] = line.trim().split(/\s+/);
    return address?.endsWith(local) === true && state === "0A";
  });
}

/** Sends `signal` to `pid`; a process that is already gone is fine. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** Waits until none of `pids` is alive; resolves false if some still are after `timeoutMs`. */
export async function waitForExit(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!pids.some(isAlive)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
}

/**
 * Stops `pids`: SIGTERM to each process group they lead (or the process),
 * then SIGKILL to whatever is left after `graceMs`. Resolves once they are gone.
 */
export async function stopProcesses(pids: readonly number[], graceMs: number): Promise<void> {
  const live = pids.filter(isAlive);
  if (live.length === 0) return;
  for (const pid of live) signalGroup(pid, "SIGTERM");
  if (graceMs > 0 && (await waitForExit(live, graceMs))) return;
  for (const pid of live) signalGroup(pid, "SIGKILL");
  await waitForExit(live, 1000);
}

/** Signals the process group `pid` leads, or just `pid` when it leads none. */
export function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    signal(pid, sig);
  }
}
