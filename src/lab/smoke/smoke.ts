/**
 * `weft lab smoke`: makes the smoke pods, runs the checks (checks.ts) and
 * removes the pods again, also when a check throws or the run is
 * interrupted with SIGINT or SIGTERM.
 */
import { readLabState } from "../state.ts";
import type { LabLayout } from "../layout.ts";
import { agentPodChecks } from "./agent-pod.ts";
import { agentRestartChecks, trafficChecks } from "./checks.ts";
import { createSmokePods, removeSmokePods } from "./pods.ts";
import { serviceChecks } from "./services.ts";
import { smokeReport, type SmokeReport } from "./report.ts";

/** Runs the smoke test against lab `lab`. */
export async function runSmoke(lab: LabLayout): Promise<SmokeReport> {
  const started = performance.now();
  const state = readLabState(lab);
  let removal: Promise<void> | undefined;
  const cleanup = () => (removal ??= removeSmokePods(lab, state));
  const interrupted = () => void cleanup().finally(() => process.exit(130));
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    const pods = await createSmokePods(lab, state);
    const ctx = { lab, state, pods };
    const [rows, serviceRows] = await Promise.all([Promise.all(trafficChecks(ctx)), serviceChecks(ctx)]);
    rows.push(...serviceRows);
    // With Kubernetes the agents are the weft DaemonSet's pods; without, the lab's supervisor runs them.
    rows.push(...(await (state.kubernetes ? agentPodChecks(ctx) : agentRestartChecks(ctx))));
    return smokeReport(lab.name, state.nodes.length, rows, (performance.now() - started) / 1000);
  } finally {
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    await cleanup();
  }
}
