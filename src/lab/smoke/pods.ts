/**
 * The smoke test's own pods, made the way the lab makes pods, and removed
 * afterwards: smoke-a and smoke-b on the first node, smoke-c on the second
 * when there is one. Each runs an echo-source server
 * (src/lab/echo-source.ts), which answers a TCP connection with the source
 * address it saw.
 *
 * In a lab with Kubernetes they are Pod objects in `default` bound to their
 * nodes (what `weft lab run` creates), which the lab kubelets run through
 * the CNI chain the weft DaemonSet installed; in a `--no-kubernetes` lab the
 * lab's runtime (lab/runtime.ts) makes them directly.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { WeftError } from "../../lib/errors.ts";
import { listensOnTcp, pidsInNamespaces } from "../procs.ts";
import { sleep } from "../../lib/sleep.ts";
import { removePod, runPod } from "../runtime.ts";
import { labKubectl, runApiPod } from "../kube-pods.ts";
import { podNetnsName } from "../kubelet/sandbox.ts";
import { logFile, type LabLayout } from "../layout.ts";
import type { LabState } from "../state.ts";
import { ROOT } from "../../lib/root.ts";

/** The port the smoke pods' servers listen on. */
export const SMOKE_PORT = 8080;
/** How long a pod's server may take to listen. */
const LISTEN_TIMEOUT_MS = 5000;
/** The Kubernetes namespace of the smoke pods. */
const NAMESPACE = "default";

const ECHO_SOURCE = join(ROOT, "src/lab/echo-source.ts");
const SERVER_COMMAND = [process.execPath, "--disable-warning=ExperimentalWarning", ECHO_SOURCE, "--port", String(SMOKE_PORT)];

/** A smoke pod that runs: its node, its network namespace and its IP. */
export interface SmokePod {
  name: string;
  node: string;
  netns: string;
  ip: string;
}

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
  const create = state.kubernetes ? createApiPod : createRuntimePod;
  // allSettled, not all: the removal below must wait for every pod's
  // creation to end, or one still being made would be left behind.
  const settled = await Promise.allSettled(plan.map((p) => create(lab, state, p)));
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) {
    await removeSmokePods(lab, state);
    throw failed.reason;
  }
  const pods = settled.map((r) => (r as PromiseFulfilledResult<SmokePod>).value);
  return { a: pods[0]!, b: pods[1]!, c: pods[2] ?? null };
}

/** A smoke pod made by the lab's runtime (a --no-kubernetes lab). */
async function createRuntimePod(lab: LabLayout, state: LabState, p: { name: string; node: string }): Promise<SmokePod> {
  const record = await runPod(lab, state, { name: p.name, node: p.node, namespace: NAMESPACE, labels: { app: "smoke" }, ports: [], command: SERVER_COMMAND });
  if (record.ip === null) throw new WeftError("SMOKE_POD_NO_IP", `smoke pod ${p.name} got no IP from the CNI chain on ${p.node}`);
  const pod = { name: p.name, node: p.node, netns: record.netns, ip: record.ip };
  await waitListening(lab, state, pod, () => [record.pid!], () => lastLine(logFile(lab, `pod-${p.name}`)));
  return pod;
}

/** A smoke pod as a Pod object bound to its node, run by the node's lab kubelet. */
async function createApiPod(lab: LabLayout, state: LabState, p: { name: string; node: string }): Promise<SmokePod> {
  const kubectl = labKubectl(lab, state);
  const { ip } = await runApiPod(kubectl, state, { name: p.name, node: p.node, namespace: NAMESPACE, labels: { app: "smoke" }, ports: [], command: SERVER_COMMAND });
  if (ip === null) throw new WeftError("SMOKE_POD_NO_IP", `smoke pod ${p.name} got no IP from the CNI chain on ${p.node}`);
  const got = await kubectl(["get", "pod", "-n", NAMESPACE, p.name, "-o", "jsonpath={.metadata.uid}"]);
  if (got.code !== 0) throw new WeftError("KUBECTL_FAILED", `kubectl get pod ${NAMESPACE}/${p.name} failed: ${got.stderr.trim()}`);
  const netns = podNetnsName(lab.name, { namespace: NAMESPACE, name: p.name, uid: got.stdout.trim() });
  const pod = { name: p.name, node: p.node, netns, ip };
  await waitListening(lab, state, pod, () => pidsInNamespaces([netns]).get(netns) ?? [], async () => {
    const logs = await kubectl(["logs", "-n", NAMESPACE, p.name, "--tail=1"]);
    return logs.code === 0 ? logs.stdout.trim() : "";
  });
  return pod;
}

/** Removes every smoke pod of `state`'s plan; pods already gone are fine. */
export async function removeSmokePods(lab: LabLayout, state: LabState): Promise<void> {
  const plan = smokePodPlan(state);
  if (!state.kubernetes) {
    await Promise.all(plan.map((p) => removePod(lab, p.name, { force: true })));
    return;
  }
  // One delete for all, waiting until their kubelets have stopped them and removed the objects.
  const r = await labKubectl(lab, state)(["delete", "pod", "-n", NAMESPACE, ...plan.map((p) => p.name), "--ignore-not-found", "--wait=true", "--timeout=60s"]);
  if (r.code !== 0) throw new WeftError("KUBECTL_FAILED", `removing the smoke pods failed: ${r.stderr.trim().split("\n").at(-1)}`, { hint: `remove them with weft lab kubectl --name ${lab.name} -- delete pod ${plan.map((p) => p.name).join(" ")}` });
}

/** The last line of a file, or "" when it has none. */
async function lastLine(file: string): Promise<string> {
  try {
    return readFileSync(file, "utf8").trim().split("\n").at(-1) ?? "";
  } catch {
    return "";
  }
}

/**
 * Waits until one of the pod's processes (`pids`) listens on the smoke
 * port, or throws SMOKE_POD_NOT_READY with the last line it logged
 * (`logged`; the log goes with the pod).
 */
async function waitListening(lab: LabLayout, state: LabState, pod: SmokePod, pids: () => number[], logged: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + LISTEN_TIMEOUT_MS;
  while (!pids().some((pid) => listensOnTcp(pid, SMOKE_PORT))) {
    if (Date.now() >= deadline) {
      const last = await logged();
      const nameFlag = lab.name === "lab" ? "" : ` --name ${lab.name}`;
      throw new WeftError("SMOKE_POD_NOT_READY", `smoke pod ${pod.name}'s server does not listen on TCP ${SMOKE_PORT} after ${LISTEN_TIMEOUT_MS / 1000} s${last ? `: "${last}"` : ""}`, {
        hint: `smoke removes its pods; to see why, run one yourself: weft lab run try${nameFlag} --node ${pod.node} -- ${SERVER_COMMAND.join(" ")}${state.kubernetes ? `, then weft lab kubectl${nameFlag} -- logs try` : ""}`,
      });
    }
    await sleep(50);
  }
}
