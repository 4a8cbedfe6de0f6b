/**
 * `lab up`'s last wait in a lab with Kubernetes: every node's lab kubelet
 * has registered its Node and reports it Ready, and the `default`
 * ServiceAccount exists (the controller manager makes it a few seconds
 * after it reports healthy; until then the API refuses every pod in the
 * namespace). Each look is a `curl` of the API as the lab's admin, run in
 * the control plane's namespace: a kubectl per look (about 0.1 s of CPU,
 * several times a second) took CPU from the very start-up it waits for,
 * a curl takes a tenth of that. A kubelet that
 * keeps exiting, or a node still not Ready at the deadline, fails `up` with
 * the node, its Ready condition's message and the kubelet's log.
 */
import { createRunner } from "../../kernel/runner.ts";
import { WeftError } from "../../lib/errors.ts";
import { sleep } from "../../lib/sleep.ts";
import { join } from "node:path";
import { APISERVER_PORT, controlPaths } from "../control/paths.ts";
import { readSupervisorReport } from "../daemons.ts";
import { logFile, type LabLayout } from "../layout.ts";
import { lastLogLine } from "../log-tail.ts";
import type { LabState } from "../state.ts";

/** How long `up` waits for the nodes after the control plane is ready. */
export const NODES_READY_TIMEOUT_MS = 60_000;
const CRASH_LIMIT = 3;

/** Each node's Ready condition (status and message), from a NodeList (whose items name no kind) or a kubectl list holding Nodes and other kinds. */
export function readyConditions(json: string): Map<string, { status: string; message: string }> {
  const items = (JSON.parse(json) as { items: { kind?: string; metadata: { name: string }; status?: { conditions?: { type: string; status: string; message?: string }[] } }[] }).items;
  return new Map(
    items.filter((i) => (i.kind ?? "Node") === "Node").map((n) => {
      const c = n.status?.conditions?.find((x) => x.type === "Ready");
      return [n.metadata.name, { status: c?.status ?? "Unknown", message: c?.message ?? "" }];
    }),
  );
}

/** GETs `path` from the API server as the lab's admin; the HTTP status (0 when it did not answer) and the body. */
async function getAsAdmin(lab: LabLayout, path: string): Promise<{ code: number; body: string }> {
  const c = controlPaths(lab);
  const admin = join(c.pkiDir, "admin");
  const r = await createRunner(lab.controlNs).exec([
    "curl", "--silent", "--max-time", "10", "--cacert", c.caCert, "--cert", `${admin}.crt`, "--key", `${admin}.key`,
    "--write-out", "\n%{http_code}", `https://127.0.0.1:${APISERVER_PORT}${path}`,
  ]);
  const cut = r.stdout.lastIndexOf("\n");
  return { code: r.code === 0 ? Number(r.stdout.slice(cut + 1)) : 0, body: r.stdout.slice(0, Math.max(cut, 0)) };
}

/** When the wait saw every node Ready, and the default ServiceAccount (epoch ms). */
export interface ClusterReadyTimes {
  nodesAt: number;
  serviceAccountAt: number;
}

/** Resolves once every node of `state` is Ready and the default ServiceAccount exists; gives up quietly once `signal` aborts. */
export async function waitForNodesReady(lab: LabLayout, state: LabState, signal: AbortSignal, timeoutMs = NODES_READY_TIMEOUT_MS): Promise<ClusterReadyTimes> {
  const deadline = Date.now() + timeoutMs;
  const times = { nodesAt: 0, serviceAccountAt: 0 };
  const leave = `the lab is left up for inspection; run weft lab down --name ${lab.name}`;
  let last = new Map<string, { status: string; message: string }>();
  let serviceAccount = false;
  while (!signal.aborted) {
    const [nodes, account] = await Promise.all([
      times.nodesAt ? null : getAsAdmin(lab, "/api/v1/nodes"),
      serviceAccount ? null : getAsAdmin(lab, "/api/v1/namespaces/default/serviceaccounts/default"),
    ]);
    if (nodes?.code === 200) last = readyConditions(nodes.body);
    if (account?.code === 200) serviceAccount = true;
    if (!times.serviceAccountAt && serviceAccount) times.serviceAccountAt = Date.now();
    if (!times.nodesAt && state.nodes.every((n) => last.get(n.name)?.status === "True")) times.nodesAt = Date.now();
    if (times.serviceAccountAt && times.nodesAt) return times;
    const report = readSupervisorReport(lab);
    for (const n of state.nodes) {
      const k = report?.processes.find((p) => p.name === `${n.name}-kubelet`);
      if (k && k.starts >= CRASH_LIMIT && k.lastExit) {
        throw new WeftError("KUBELET_NOT_READY", `the kubelet on ${n.name} keeps exiting (${k.starts} starts, last ${k.lastExit.signal ?? `status ${k.lastExit.code}`})${lastLogLine(k.log)}; see ${k.log}`, { hint: leave });
      }
    }
    if (Date.now() >= deadline) {
      const n = state.nodes.find((x) => last.get(x.name)?.status !== "True");
      if (n === undefined) {
        const log = logFile(lab, "kube-controller-manager");
        throw new WeftError("CLUSTER_NOT_READY", `the default ServiceAccount does not exist after ${timeoutMs / 1000} s (the controller manager makes it)${lastLogLine(log)}; see ${log}`, { hint: leave });
      }
      const c = last.get(n.name);
      const log = logFile(lab, `${n.name}-kubelet`);
      const why = c ? `its Node is ${c.status === "False" ? "NotReady" : "Unknown"}${c.message ? ` (${c.message})` : ""}` : "its Node has not registered";
      throw new WeftError("NODE_NOT_READY", `${n.name} is not Ready after ${timeoutMs / 1000} s: ${why}; see ${log}`, { hint: leave });
    }
    await sleep(200, signal);
  }
  return times;
}
