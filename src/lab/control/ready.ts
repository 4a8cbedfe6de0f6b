/**
 * Waiting for the control plane: the API server's /readyz, then the
 * controller manager's and the scheduler's /healthz. The endpoints live in
 * the control namespace, which the host's namespace cannot reach, so each
 * probe is one `curl` run there (`ip netns exec NAME-control curl ...`).
 * The API server's certificate is verified against the lab CA; the other
 * two serve certificates they sign themselves, as under kubeadm.
 */
import { createRunner } from "../../kernel/runner.ts";
import { WeftError } from "../../lib/errors.ts";
import { sleep } from "../../lib/sleep.ts";
import { readSupervisorReport, supervisorPid } from "../daemons.ts";
import { logFile, type LabLayout } from "../layout.ts";
import { lastLogLine } from "../log-tail.ts";
import { CONTROLLER_MANAGER_PORT, SCHEDULER_PORT, type ControlComponent } from "./components.ts";
import { APISERVER_PORT, controlPaths } from "./paths.ts";

/** How long `lab up` waits for the control plane. */
export const CONTROL_READY_TIMEOUT_MS = 90_000;
/** A component started this many times without becoming ready fails the wait early. */
const CRASH_LIMIT = 3;
const POLL_MS = 200;

/** When each part of the control plane became ready, in ms since the wait began. */
export interface ControlPlaneTimes {
  apiserverMs: number;
  /** The controller manager and the scheduler both healthy. */
  controllersMs: number;
}

/** One probe: the component it checks and the URL inside the control namespace that answers "ok" when it is ready. */
interface Probe {
  component: ControlComponent;
  url: string;
  /** Verify the server's certificate against this CA; else accept the component's self-signed one. */
  ca?: string;
}

/**
 * Resolves once the API server is ready and the controller manager and
 * scheduler are healthy; throws naming the first that is not. Gives up
 * quietly (resolving with what it has) once `signal` is aborted.
 * `onApiserver` runs as soon as the API server is ready, while the others
 * are waited for; its failure is thrown after that wait.
 */
export async function waitForControlPlane(lab: LabLayout, signal: AbortSignal, timeoutMs = CONTROL_READY_TIMEOUT_MS, onApiserver?: () => Promise<void>): Promise<ControlPlaneTimes> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  await waitFor(lab, [{ component: "kube-apiserver", url: `https://127.0.0.1:${APISERVER_PORT}/readyz`, ca: controlPaths(lab).caCert }], deadline, signal);
  const apiserverMs = Date.now() - started;
  // What needs only the API server runs while the controllers start.
  const meanwhile = onApiserver?.();
  meanwhile?.catch(() => {});
  await waitFor(
    lab,
    [
      { component: "kube-controller-manager", url: `https://127.0.0.1:${CONTROLLER_MANAGER_PORT}/healthz` },
      { component: "kube-scheduler", url: `https://127.0.0.1:${SCHEDULER_PORT}/healthz` },
    ],
    deadline,
    signal,
  );
  const controllersMs = Date.now() - started;
  await meanwhile;
  return { apiserverMs, controllersMs };
}

async function waitFor(lab: LabLayout, probes: Probe[], deadline: number, signal: AbortSignal): Promise<void> {
  const leave = `the lab is left up for inspection; run weft lab down --name ${lab.name}`;
  let waiting = probes;
  while (!signal.aborted) {
    const answers = await Promise.all(waiting.map((p) => probe(lab, p)));
    waiting = waiting.filter((_, i) => !answers[i]);
    if (waiting.length === 0) return;
    if (supervisorPid(lab) === null) {
      throw new WeftError("LAB_SUPERVISOR_EXITED", `the supervisor of lab ${lab.name} exited; see ${logFile(lab, "supervisor")}`, { hint: leave });
    }
    const report = readSupervisorReport(lab);
    for (const p of waiting) {
      // The API server waits for etcd: a crashing etcd is the cause to name.
      for (const name of p.component === "kube-apiserver" ? (["control-etcd", p.component] as const) : [p.component]) {
        const s = report?.processes.find((x) => x.name === name);
        if (s && s.starts >= CRASH_LIMIT && s.lastExit) {
          const how = s.lastExit.signal ?? `status ${s.lastExit.code}`;
          throw new WeftError("CONTROL_PLANE_NOT_READY", `${name} keeps exiting (${s.starts} starts, last ${how})${lastLogLine(s.log)}; see ${s.log}`, { hint: leave });
        }
      }
    }
    if (Date.now() >= deadline) {
      const p = waiting[0]!;
      const log = logFile(lab, p.component);
      throw new WeftError("CONTROL_PLANE_NOT_READY", `${p.component} is not ready: ${p.url} in ${lab.controlNs} does not answer "ok"${lastLogLine(log)}; see ${log}`, { hint: leave });
    }
    await sleep(POLL_MS);
  }
}

/** True when the probe's URL answers 200 "ok". */
async function probe(lab: LabLayout, p: Probe): Promise<boolean> {
  const tls = p.ca ? ["--cacert", p.ca] : ["--insecure"];
  const r = await createRunner(lab.controlNs).exec(["curl", "--silent", "--max-time", "2", ...tls, "--fail", p.url]);
  return r.code === 0 && r.stdout.trim() === "ok";
}
