/**
 * The smoke test's own pods, made through the lab's runtime (the real CNI
 * chain) and removed afterwards: smoke-a and smoke-b on the first node,
 * smoke-c on the second when there is one. Each runs an echo-source server
 * (src/lab/echo-source.ts), which answers a TCP connection with the source
 * address it saw.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { WeftError } from "../../lib/errors.ts";
import { listensOnTcp } from "../procs.ts";
import { sleep } from "../../lib/sleep.ts";
import { removePod, runPod } from "../runtime.ts";
import { logFile, type LabLayout } from "../layout.ts";
import type { LabState, PodRecord } from "../state.ts";
import { ROOT } from "../../lib/root.ts";

/** The port the smoke pods' servers listen on. */
export const SMOKE_PORT = 8080;
/** How long a pod's server may take to listen. */
const LISTEN_TIMEOUT_MS = 5000;

const ECHO_SOURCE = join(ROOT, "src/lab/echo-source.ts");

/** A smoke pod that runs, with its IP. */
export type SmokePod = PodRecord & { ip: string };

/** The smoke pods: a and b share the first node; c is on the second, or null in a one-node lab. */
export interface SmokePods {
  a: SmokePod;
  b: SmokePod;
  c: SmokePod | null;
}

/** The pods smoke makes and on which node, for `state`. */
function smokePodPlan(state: LabState): { name: string; node: string }[] {
  const [first, second] = state.nodes;
  return [
    { name: "smoke-a", node: first!.name },
    { name: "smoke-b", node: first!.name },
    ...(second ? [{ name: "smoke-c", node: second.name }] : []),
  ];
}

/**
 * Creates the smoke pods and waits until their servers listen. Pods of an
 * earlier smoke that was killed before it could remove them are removed
 * first. On failure the pods made so far are removed.
 */
export async function createSmokePods(lab: LabLayout, state: LabState): Promise<SmokePods> {
  const plan = smokePodPlan(state);
  await removeSmokePods(lab, state);
  // allSettled, not all: the removal below must wait for every pod's
  // creation to end, or one still being made would be left behind.
  const settled = await Promise.allSettled(
    plan.map(async (p) => {
      const record = await runPod(lab, state, {
        name: p.name,
        node: p.node,
        namespace: "default",
        labels: { app: "smoke" },
        ports: [],
        command: [process.execPath, "--disable-warning=ExperimentalWarning", ECHO_SOURCE, "--port", String(SMOKE_PORT)],
      });
      if (record.ip === null) throw new WeftError("SMOKE_POD_NO_IP", `smoke pod ${p.name} got no IP from the CNI chain on ${p.node}`);
      await waitListening(lab, record);
      return { ...record, ip: record.ip };
    }),
  );
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) {
    await removeSmokePods(lab, state);
    throw failed.reason;
  }
  const pods = settled.map((r) => (r as PromiseFulfilledResult<SmokePod>).value);
  return { a: pods[0]!, b: pods[1]!, c: pods[2] ?? null };
}

/** Removes every smoke pod of `state`'s plan; pods already gone are fine. */
export async function removeSmokePods(lab: LabLayout, state: LabState): Promise<void> {
  await Promise.all(smokePodPlan(state).map((p) => removePod(lab, p.name, { force: true })));
}

/** Waits until the pod's server listens, or throws SMOKE_POD_NOT_READY with what it logged (the log goes with the pod). */
async function waitListening(lab: LabLayout, pod: PodRecord): Promise<void> {
  const deadline = Date.now() + LISTEN_TIMEOUT_MS;
  while (!listensOnTcp(pod.pid!, SMOKE_PORT)) {
    if (Date.now() >= deadline) {
      let logged = "";
      try {
        logged = readFileSync(logFile(lab, `pod-${pod.name}`), "utf8").trim().split("\n").at(-1) ?? "";
      } catch {
        // No log: the server never started.
      }
      throw new WeftError("SMOKE_POD_NOT_READY", `smoke pod ${pod.name}'s server does not listen on TCP ${SMOKE_PORT} after ${LISTEN_TIMEOUT_MS / 1000} s${logged ? `: "${logged}"` : ""}`, {
        hint: `smoke removes its pods; to see why, run one yourself: weft lab run try --name ${lab.name} --node ${pod.node} -- ${process.execPath} ${ECHO_SOURCE} --port ${SMOKE_PORT}`,
      });
    }
    await sleep(20);
  }
}
