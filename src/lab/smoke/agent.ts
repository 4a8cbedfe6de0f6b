/**
 * The agent-restart part of the smoke test: kill one node's agent the way a
 * crash would (SIGKILL: it cleans nothing up), then wait until the lab's
 * supervisor has started a new one and that one answers ready on its API
 * socket (`GET /readyz` → "ready").
 */
import { fetchAgent } from "../../agent/client.ts";
import { readSupervisorReport } from "../daemons.ts";
import { nodePaths, type LabLayout } from "../layout.ts";
import { signal } from "../procs.ts";
import { sleep } from "../../lib/sleep.ts";
import { WeftError } from "../../lib/errors.ts";

/** The supervised name of a node's agent. */
function agentName(node: string): string {
  return `${node}-agent`;
}

/** The running pid of `node`'s agent from the supervisor's report, or null. */
function agentPid(lab: LabLayout, node: string): number | null {
  return readSupervisorReport(lab)?.processes.find((p) => p.name === agentName(node))?.pid ?? null;
}

/** Kills `node`'s agent with SIGKILL; returns the pid it had. Throws SMOKE_AGENT_NOT_RUNNING when it has none. */
export function killAgent(lab: LabLayout, node: string): number {
  const pid = agentPid(lab, node);
  if (pid === null) {
    throw new WeftError("SMOKE_AGENT_NOT_RUNNING", `the supervisor of lab ${lab.name} reports no running ${agentName(node)}`, { hint: `see ${lab.supervisorStatusFile}` });
  }
  signal(pid, "SIGKILL");
  return pid;
}

/** True when `node`'s agent answers /readyz with "ready". */
export async function agentReady(lab: LabLayout, node: string): Promise<boolean> {
  try {
    return (await fetchAgent<string>(nodePaths(lab, node).agentSocket, "/readyz")).trim() === "ready";
  } catch {
    return false;
  }
}

/**
 * Waits until `node`'s agent runs with a pid other than `oldPid` and is
 * ready; resolves with the new pid, or null after `timeoutMs`.
 */
export async function waitAgentBack(lab: LabLayout, node: string, oldPid: number, timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pid = agentPid(lab, node);
    if (pid !== null && pid !== oldPid && (await agentReady(lab, node))) return pid;
    if (Date.now() >= deadline) return null;
    await sleep(50);
  }
}
