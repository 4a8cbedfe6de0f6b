/**
 * `weft lab run`, `pods`, `exec` and `rm` in a lab that runs Kubernetes:
 * the Pod objects are the source of truth. `run` creates a Pod bound to the
 * node (as `kubectl run --overrides` with nodeName would) and waits for its
 * kubelet to run it; `pods` lists every Pod; `exec` is `kubectl exec`, so it
 * works for every pod, Deployments' included; `rm` deletes the Pod and
 * waits until its kubelet has stopped it and removed the object.
 *
 * Everything goes through the pinned kubectl, run in the control plane's
 * namespace: the API server's address exists only inside the lab.
 */
import { WeftError } from "../lib/errors.ts";
import { sleep } from "../lib/sleep.ts";
import { fromV1Pod } from "../kube/pod.ts";
import type { V1Pod } from "@kubernetes/client-node";
import { createRunner } from "../kernel/runner.ts";
import { kubectlArgv } from "./control/kubectl.ts";
import { validatePodName, type LabLayout } from "./layout.ts";
import type { PodSpec, PodView } from "./runtime.ts";
import type { LabState } from "./state.ts";
import { SANDBOX_FAILED } from "./kubelet/status.ts";

/** Runs kubectl with `args` (stdin optional) and collects its output. */
export type Kubectl = (args: string[], stdin?: string) => Promise<{ code: number; stdout: string; stderr: string }>;

/** kubectl as the lab's admin, output collected. */
export function labKubectl(lab: LabLayout, state: LabState): Kubectl {
  return (args, stdin) => createRunner().exec(kubectlArgv(lab, state, args), stdin);
}

/** The image a `weft lab run` pod gets: not in the catalog, so its command runs on the machine's filesystem. */
export const LAB_RUN_IMAGE = "weft.dev/lab-host";
/** How long `run` waits for the pod to run, and `rm` for it to be gone. */
const WAIT_MS = 60_000;

/** What `weft lab run` asks for, the same with or without Kubernetes. */
export type ApiPodSpec = PodSpec;

/** The Pod object `weft lab run` creates. */
export function labRunPod(spec: ApiPodSpec): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: spec.name, namespace: spec.namespace, labels: spec.labels },
    spec: {
      nodeName: spec.node,
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 1,
      automountServiceAccountToken: false,
      containers: [
        {
          name: spec.name,
          image: LAB_RUN_IMAGE,
          command: spec.command,
          ports: spec.ports.map((p) => ({ containerPort: p.containerPort, hostPort: p.hostPort, protocol: p.protocol.toUpperCase() })),
        },
      ],
    },
  };
}

async function ok(kubectl: Kubectl, args: string[], stdin?: string): Promise<string> {
  const r = await kubectl(args, stdin);
  if (r.code !== 0) throw new WeftError("KUBECTL_FAILED", `kubectl ${args.slice(0, 3).join(" ")} failed: ${r.stderr.trim().split("\n").at(-1) ?? `exit status ${r.code}`}`);
  return r.stdout;
}

/** Splits `[NS/]POD` (default namespace "default"). */
export function parsePodRef(ref: string): { namespace: string; name: string } {
  const parts = ref.split("/");
  if (parts.length > 2 || parts.some((p) => p === "")) throw new WeftError("USAGE", `invalid pod "${ref}"`, { hint: "use POD or NAMESPACE/POD" });
  return parts.length === 2 ? { namespace: parts[0]!, name: parts[1]! } : { namespace: "default", name: parts[0]! };
}

/**
 * Creates the pod and waits until it runs with an IP. A sandbox that
 * cannot be made fails the run with the plugin's message, and the pod is
 * deleted again: the lab kubelet puts that message (its
 * FailedCreatePodSandbox event's) on the pod's PodReadyToStartContainers
 * condition, so one read of the pod tells both.
 */
export async function runApiPod(kubectl: Kubectl, state: LabState, spec: ApiPodSpec): Promise<{ ip: string | null }> {
  validatePodName(spec.name);
  if (!state.nodes.some((n) => n.name === spec.node)) {
    throw new WeftError("NODE_NOT_FOUND", `lab ${state.name} has no node "${spec.node}"`, { hint: `its nodes are ${state.nodes.map((n) => n.name).join(", ")}` });
  }
  await ok(kubectl, ["create", "-f", "-"], JSON.stringify(labRunPod(spec)));
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const pod = JSON.parse(await ok(kubectl, ["get", "pod", "-n", spec.namespace, spec.name, "-o", "json"])) as V1Pod;
    const phase = pod.status?.phase;
    if ((phase === "Running" || phase === "Succeeded" || phase === "Failed") && pod.status?.podIP) return { ip: pod.status.podIP };
    const sandbox = pod.status?.conditions?.find((c) => c.type === "PodReadyToStartContainers");
    const failed = sandbox?.status === "False" && sandbox.message?.startsWith(SANDBOX_FAILED) ? sandbox.message : null;
    if (failed !== null || Date.now() >= deadline) {
      await kubectl(["delete", "pod", "-n", spec.namespace, spec.name, "--wait=false"]);
      if (failed !== null) throw new WeftError("POD_SANDBOX_FAILED", `pod ${spec.namespace}/${spec.name} on ${spec.node}: ${failed}`);
      throw new WeftError("POD_NOT_RUNNING", `pod ${spec.namespace}/${spec.name} is not running after ${WAIT_MS / 1000} s (phase ${phase ?? "unknown"})`, {
        hint: `see weft lab kubectl -- describe pod -n ${spec.namespace} ${spec.name}`,
      });
    }
    await sleep(50);
  }
}

/** Every pod in the cluster as `weft lab pods` shows it. */
export async function listApiPods(kubectl: Kubectl): Promise<PodView[]> {
  const list = JSON.parse(await ok(kubectl, ["get", "pods", "--all-namespaces", "-o", "json"])) as { items: V1Pod[] };
  return list.items
    .map((raw) => {
      const p = fromV1Pod(raw);
      const status = raw.metadata?.deletionTimestamp ? "Terminating" : podStatusWord(raw);
      return { name: p.name, namespace: p.namespace, node: p.nodeName ?? "<none>", ip: raw.status?.podIP ?? null, status, labels: p.labels };
    })
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/** The STATUS word kubectl shows: a waiting or terminated reason, else the phase. */
function podStatusWord(p: V1Pod): string {
  for (const c of p.status?.containerStatuses ?? []) {
    if (c.state?.waiting?.reason) return c.state.waiting.reason;
  }
  if (p.status?.phase === "Succeeded") return "Completed";
  if (p.status?.phase === "Failed") return p.status.containerStatuses?.[0]?.state?.terminated?.reason ?? "Error";
  return p.status?.phase ?? "Unknown";
}

/** Deletes a pod and waits until it is gone; `removed` false when there was none. */
export async function removeApiPod(kubectl: Kubectl, ref: string): Promise<{ removed: boolean }> {
  const { namespace, name } = parsePodRef(ref);
  const r = await kubectl(["delete", "pod", "-n", namespace, name, `--timeout=${WAIT_MS / 1000}s`]);
  if (r.code === 0) return { removed: true };
  if (/NotFound|not found/.test(r.stderr)) return { removed: false };
  throw new WeftError("KUBECTL_FAILED", `kubectl delete pod ${namespace}/${name} failed: ${r.stderr.trim().split("\n").at(-1)}`);
}

/** The kubectl arguments of `weft lab exec [NS/]POD -- CMD`: stdin passed, a terminal when we have one. */
export function execArgs(ref: string, command: string[], tty: boolean): string[] {
  const { namespace, name } = parsePodRef(ref);
  return ["exec", "-n", namespace, name, tty ? "-it" : "-i", "--", ...command];
}
