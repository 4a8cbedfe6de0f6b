/**
 * Container processes: starting one (launch.ts's script in the pod's
 * network namespace, detached in its own process group, output appended to
 * its log), learning how it ended, and stopping it (SIGTERM to its group,
 * SIGKILL after the grace period).
 *
 * A container started by this kubelet is watched through the shell host
 * that started it; one adopted after a kubelet restart is not, so it is
 * polled by pid and start time, and its exit status read from the exit
 * file its launch shell writes.
 */
import { mkdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { findProcesses, signalGroup, stopProcesses } from "../procs.ts";
import { sleep } from "../../lib/sleep.ts";
import { launchArgv, launchScript, prepareUpper, type LaunchPlan } from "./launch.ts";
import { processStart, stillRunning } from "./records.ts";
import type { ShellHost } from "../shell-host.ts";

/** A container's files under its pod's directory. */
export function containerDir(podDir: string, name: string, init: boolean): string {
  return join(podDir, "containers", `${init ? "init-" : ""}${name}`);
}

/** The log of run `restartCount` of a container: LOGS/NS_POD_UID/NAME/N.log, like /var/log/pods. */
export function containerLog(logsDir: string, pod: { namespace: string; name: string; uid: string }, container: string, restartCount: number): string {
  return join(logsDir, `${pod.namespace}_${pod.name}_${pod.uid}`, container, `${restartCount}.log`);
}

/** A started container: its launch shell and a promise of its exit status. */
export interface Started {
  pid: number;
  pidStart: string;
  exited: Promise<number>;
}

/**
 * Starts a container through the kubelet's shell host (shell-host.ts: a
 * session of its own, exactly `env`); resolves once its process exists.
 */
export async function startContainer(host: ShellHost, netns: string, plan: LaunchPlan, argv: string[], env: Record<string, string>, log: string): Promise<Started> {
  mkdirSync(dirname(log), { recursive: true });
  for (const d of [plan.rootfs, plan.upper, plan.work]) mkdirSync(d, { recursive: true });
  rmSync(plan.exitFile, { force: true });
  rmSync(plan.startedFile, { force: true });
  prepareUpper(plan);
  // busybox's `mount -o remount` finds the mount point by its path in /proc/mounts, which names
  // it without symbolic links: the root's path must be its real one (a lab dir may lie behind a link).
  const launched = await host.launch(launchArgv(netns, launchScript({ ...plan, rootfs: realpathSync(plan.rootfs), ...(env.SHLVL !== undefined && { shlvl: env.SHLVL }) }), argv), env, log);
  // nsenter and unshare exec the shell, so this pid is the launch shell's.
  const pid = launched.pid;
  const pidStart = processStart(pid) ?? "";
  const exited = launched.exited.then(
    (status) => exitStatus(plan.exitFile, status > 128 ? null : status, status > 128 ? signalName(status - 128) : null),
    // The shell host ended while the container ran: watch it by pid, as an adopted one.
    () => watchAdopted(pid, pidStart, plan.exitFile, new AbortController().signal),
  );
  return { pid, pidStart, exited };
}

function signalName(n: number): NodeJS.Signals | null {
  return (Object.entries(constants.signals).find(([, v]) => v === n)?.[0] as NodeJS.Signals | undefined) ?? null;
}

/** Waits for an adopted container (no child handle) to end; resolves with its exit status. */
export async function watchAdopted(pid: number, pidStart: string, exitFile: string, signal: AbortSignal): Promise<number> {
  while (!signal.aborted && stillRunning(pid, pidStart)) await sleep(1000, signal);
  return exitStatus(exitFile, null, null);
}

/**
 * The exit status of a container run: what its launch shell wrote, else
 * 128 + the signal that ended the shell (137 for SIGKILL, as runtimes report).
 */
export function exitStatus(exitFile: string, code: number | null, sig: NodeJS.Signals | null): number {
  try {
    const text = readFileSync(exitFile, "utf8").trim();
    if (/^\d+$/.test(text)) return Number(text);
  } catch {
    // The shell was killed before it could write it.
  }
  if (sig) return 128 + (constants.signals[sig] ?? 9);
  return code ?? 137;
}

/** True while any process of group `pgid` exists. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * What an ended container leaves behind is killed: the processes still in
 * its launch shell's group (`pgid`, the shell's pid, started at
 * `pidStart`), as a runtime's PID namespace takes every process of the
 * container with its first: a command whose launch shell alone was killed,
 * or a child it left running. Resolves once none of them is left, after at
 * most 1 s (procs.ts stopProcesses; zombies count as gone: they hold nothing).
 *
 * The kernel gives no pid to a new process while a group of that id lives,
 * so members found by the id, started at or after the shell, are the
 * container's. Nothing is signalled when a live process has the id but not
 * the shell's start time: the id was given again after the group was gone
 * (a container that ended long before a kubelet adopted it).
 */
export async function killLeftovers(pgid: number, pidStart: string): Promise<void> {
  const leader = processStart(pgid);
  if (leader !== null && leader !== pidStart) return;
  await stopProcesses(findProcesses([{ pgid, notBefore: Number(pidStart) }]), 0);
}

/**
 * Stops a container's process group: SIGTERM, then SIGKILL after `graceMs`.
 * Resolves once the group is empty (a process that ignores SIGTERM outlives
 * its launch shell, so the group is what is waited for).
 */
export async function stopContainer(pid: number, pidStart: string, graceMs: number): Promise<void> {
  if (!stillRunning(pid, pidStart) && !groupAlive(pid)) return;
  signalGroup(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!groupAlive(pid)) return;
    await sleep(50);
  }
  signalGroup(pid, "SIGKILL");
  const hard = Date.now() + 2000;
  while (Date.now() < hard && groupAlive(pid)) await sleep(20);
}
