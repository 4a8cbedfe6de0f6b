/**
 * `lab up`'s last wait in a lab with Kubernetes: every node's lab kubelet
 * has registered its Node and reports it Ready (kubectl get nodes, run in
 * the control plane's namespace like `weft lab kubectl`). A kubelet that
 * keeps exiting, or a node still not Ready at the deadline, fails `up` with
 * the node, its Ready condition's message and the kubelet's log.
 */
import { createRunner } from "../../kernel/runner.ts";
import { WeftError } from "../../lib/errors.ts";
import { sleep } from "../../lib/sleep.ts";
import { kubectlArgv } from "../control/kubectl.ts";
import { readSupervisorReport } from "../daemons.ts";
import { logFile, type LabLayout } from "../layout.ts";
import { lastLogLine } from "../log-tail.ts";
import type { LabState } from "../state.ts";

/** How long `up` waits for the nodes after the control plane is ready. */
export const NODES_READY_TIMEOUT_MS = 60_000;
const CRASH_LIMIT = 3;

/** Each node's Ready condition: status and message, from `kubectl get nodes -o json`. */
export function readyConditions(json: string): Map<string, { status: string; message: string }> {
  const items = (JSON.parse(json) as { items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string; message?: string }[] } }[] }).items;
  return new Map(
    items.map((n) => {
      const c = n.status?.conditions?.find((x) => x.type === "Ready");
      return [n.metadata.name, { status: c?.status ?? "Unknown", message: c?.message ?? "" }];
    }),
  );
}

/** Resolves once every node of `state` is Ready; gives up quietly once `signal` aborts. */
export async function waitForNodesReady(lab: LabLayout, state: LabState, signal: AbortSignal, timeoutMs = NODES_READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const leave = `the lab is left up for inspection; run weft lab down --name ${lab.name}`;
  let last = new Map<string, { status: string; message: string }>();
  while (!signal.aborted) {
    const r = await createRunner().exec(kubectlArgv(lab, state, ["get", "nodes", "-o", "json"]));
    if (r.code === 0) {
      last = readyConditions(r.stdout);
      if (state.nodes.every((n) => last.get(n.name)?.status === "True")) return;
    }
    const report = readSupervisorReport(lab);
    for (const n of state.nodes) {
      const k = report?.processes.find((p) => p.name === `${n.name}-kubelet`);
      if (k && k.starts >= CRASH_LIMIT && k.lastExit) {
        throw new WeftError("KUBELET_NOT_READY", `the kubelet on ${n.name} keeps exiting (${k.starts} starts, last ${k.lastExit.signal ?? `status ${k.lastExit.code}`})${lastLogLine(k.log)}; see ${k.log}`, { hint: leave });
      }
    }
    if (Date.now() >= deadline) {
      const n = state.nodes.find((x) => last.get(x.name)?.status !== "True")!;
      const c = last.get(n.name);
      const log = logFile(lab, `${n.name}-kubelet`);
      const why = c ? `its Node is ${c.status === "False" ? "NotReady" : "Unknown"}${c.message ? ` (${c.message})` : ""}` : "its Node has not registered";
      throw new WeftError("NODE_NOT_READY", `${n.name} is not Ready after ${timeoutMs / 1000} s: ${why}; see ${log}`, { hint: leave });
    }
    await sleep(200, signal);
  }
}
