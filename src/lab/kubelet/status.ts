/**
 * A pod's status as the API shows it, computed from what the kubelet knows
 * (the pod record, which containers run, probe results). Pure, so the
 * phase rules are unit-tested: kubelet's getPhase in short.
 *
 *   Pending    the sandbox or an init container is not done, or a container
 *              has never started
 *   Running    every container has started and one runs or will be restarted
 *   Succeeded  every container ended with 0 and none will be restarted
 *   Failed     every container ended, one with non-zero, and none will be
 *              restarted (or an init container failed under Never)
 */
import type { Container, Pod, RestartPolicy } from "../../kube/pod.ts";
import type { ContainerRecord, PodRecord, Termination } from "./records.ts";

/** What the kubelet knows beyond the record. */
export interface StatusInputs {
  pod: Pod;
  record: PodRecord | null;
  hostIp: string;
  /** Names of containers whose readiness probe passes (or that have none and run). */
  ready: ReadonlySet<string>;
  /** Why containers wait, by name (ContainerCreating, CrashLoopBackOff, ...). */
  waiting: ReadonlyMap<string, { reason: string; message?: string }>;
  /** The sandbox could not be made: the reason shown on the pod's conditions. */
  sandboxError: string | null;
}

type Json = Record<string, unknown>;

/** How the message of a failed sandbox starts, on its event and the PodReadyToStartContainers condition (kubelet's wording). */
export const SANDBOX_FAILED = "Failed to create pod sandbox";

/** True when a container that ended this way is started again. */
export function willRestart(policy: RestartPolicy, t: Termination): boolean {
  return policy === "Always" || (policy === "OnFailure" && t.exitCode !== 0);
}

/** The pod's phase. */
export function podPhase(pod: Pod, record: PodRecord | null): "Pending" | "Running" | "Succeeded" | "Failed" {
  if (record === null || record.network === null) return "Pending";
  const byName = new Map(record.containers.map((c) => [`${c.init ? "i" : "c"}/${c.name}`, c]));
  for (const ic of pod.initContainers) {
    const r = byName.get(`i/${ic.name}`);
    if (r?.terminated && r.terminated.exitCode !== 0 && pod.restartPolicy === "Never") return "Failed";
    if (!r?.terminated || r.terminated.exitCode !== 0) return "Pending";
  }
  const rs = pod.containers.map((c) => byName.get(`c/${c.name}`));
  if (rs.some((r) => r === undefined || (r.pid === null && r.terminated === null))) return "Pending";
  const running = rs.filter((r) => r!.terminated === null).length;
  if (running > 0) return "Running";
  if (rs.some((r) => willRestart(pod.restartPolicy, r!.terminated!))) return "Running";
  return rs.some((r) => r!.terminated!.exitCode !== 0) ? "Failed" : "Succeeded";
}

function terminatedJson(t: Termination, containerId: string): Json {
  return { terminated: { exitCode: t.exitCode, reason: t.reason, startedAt: t.startedAt, finishedAt: t.finishedAt, containerID: t.containerId ?? containerId } };
}

/** The container ID of run `run` of a pod's container. */
export function containerIdOf(podUid: string, name: string, run: number): string {
  return `weft://${podUid}-${name}-${run}`;
}

function containerStatus(c: Container, r: ContainerRecord | undefined, in_: StatusInputs, init: boolean): Json {
  const containerId = r && r.restartCount >= 0 ? containerIdOf(in_.pod.uid, c.name, r.restartCount) : undefined;
  const waiting = in_.waiting.get(c.name);
  let state: Json;
  if (r && r.pid !== null && r.terminated === null && r.startedAt) state = { running: { startedAt: r.startedAt } };
  else if (r?.terminated && !waiting) state = terminatedJson(r.terminated, containerId!);
  else state = { waiting: { reason: waiting?.reason ?? (init ? "PodInitializing" : "ContainerCreating"), ...(waiting?.message ? { message: waiting.message } : {}) } };
  const running = "running" in state;
  const last = r?.terminated && waiting ? r.terminated : r?.lastTerminated;
  return {
    name: c.name,
    image: c.image,
    imageID: "",
    ...(containerId ? { containerID: containerId } : {}),
    ready: running && in_.ready.has(c.name) && !init,
    started: running,
    restartCount: Math.max(0, r?.restartCount ?? 0),
    state,
    lastState: last ? terminatedJson(last, containerId ?? "") : {},
  };
}

function condition(type: string, ok: boolean, since: string, reason?: string, message?: string): Json {
  return { type, status: ok ? "True" : "False", lastProbeTime: null, lastTransitionTime: since, ...(reason && !ok ? { reason } : {}), ...(message && !ok ? { message } : {}) };
}

/**
 * The status subresource body. `transitions` keeps each condition's last
 * transition time across calls (updated in place), so an unchanged status
 * serialises identically and is not patched again.
 */
export function podStatus(in_: StatusInputs, transitions: Map<string, { ok: boolean; at: string }>): Json {
  const { pod, record } = in_;
  const phase = podPhase(pod, record);
  const byName = new Map((record?.containers ?? []).map((c) => [`${c.init ? "i" : "c"}/${c.name}`, c]));
  const initStatuses = pod.initContainers.map((c) => containerStatus(c, byName.get(`i/${c.name}`), in_, true));
  const statuses = pod.containers.map((c) => containerStatus(c, byName.get(`c/${c.name}`), in_, false));
  const sandboxReady = record !== null && record.network !== null;
  const initialized = pod.initContainers.every((c) => byName.get(`i/${c.name}`)?.terminated?.exitCode === 0);
  const containersReady = statuses.every((s) => s.ready === true);
  const notReady = statuses.filter((s) => s.ready !== true).map((s) => s.name as string);
  const at = (type: string, ok: boolean) => {
    const prev = transitions.get(type);
    if (prev && prev.ok === ok) return prev.at;
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    transitions.set(type, { ok, at: now });
    return now;
  };
  const finished = phase === "Succeeded" || phase === "Failed";
  const readyReason = finished ? "PodCompleted" : "ContainersNotReady";
  const readyMessage = finished ? undefined : `containers with unready status: [${notReady.join(" ")}]`;
  const conditions = [
    condition("PodReadyToStartContainers", sandboxReady, at("PodReadyToStartContainers", sandboxReady), undefined, in_.sandboxError ?? undefined),
    condition("Initialized", initialized, at("Initialized", initialized), "ContainersNotInitialized", "containers with incomplete status: [" + pod.initContainers.filter((c) => byName.get(`i/${c.name}`)?.terminated?.exitCode !== 0).map((c) => c.name).join(" ") + "]"),
    condition("Ready", containersReady && !finished, at("Ready", containersReady && !finished), readyReason, readyMessage),
    condition("ContainersReady", containersReady && !finished, at("ContainersReady", containersReady && !finished), readyReason, readyMessage),
    condition("PodScheduled", true, at("PodScheduled", true)),
  ];
  const podIp = pod.hostNetwork ? in_.hostIp : (record?.ip ?? null);
  return {
    phase,
    conditions,
    hostIP: in_.hostIp,
    hostIPs: [{ ip: in_.hostIp }],
    podIP: podIp,
    podIPs: podIp ? [{ ip: podIp }] : null,
    startTime: record?.createdAt ?? null,
    initContainerStatuses: initStatuses.length > 0 ? initStatuses : null,
    containerStatuses: statuses,
    qosClass: "BestEffort",
  };
}
