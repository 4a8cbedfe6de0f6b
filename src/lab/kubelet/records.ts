/**
 * What the lab kubelet knows about each pod it runs, on disk in
 * NODE/kubelet/pods/UID/record.json, so a restarted kubelet finds its pods
 * (their sandbox, and each container's launch pid with its start time, which
 * tells a live container from a reused pid) instead of making them again.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeJsonAtomic } from "../state.ts";

/** How a container run ended. */
export interface Termination {
  exitCode: number;
  /** Completed, Error, or OOMKilled-like reasons; "Killed" when the kubelet stopped it. */
  reason: string;
  startedAt: string;
  finishedAt: string;
  /** The run's container ID (weft://UID-NAME-RUN). */
  containerId?: string;
}

export interface ContainerRecord {
  name: string;
  init: boolean;
  /** Runs started so far minus one (the API's restartCount); -1 before the first start. */
  restartCount: number;
  /** The launch shell's pid while running, else null. */
  pid: number | null;
  /** That pid's start time (field 22 of /proc/PID/stat), so a reused pid is not taken for it. */
  pidStart: string | null;
  startedAt: string | null;
  /** How the current run ended (null while running or never run). */
  terminated: Termination | null;
  /** How the run before it ended. */
  lastTerminated: Termination | null;
  /** The container's root (mounted in its own mount namespace only), for exec. */
  rootfs: string;
  workingDir: string;
  /** The environment it runs with, for exec. */
  env: Record<string, string>;
}

export interface PodRecord {
  uid: string;
  namespace: string;
  name: string;
  hostNetwork: boolean;
  /** The pod's network namespace (the node's for hostNetwork pods). */
  netns: string;
  /** CNI_CONTAINERID of the sandbox. */
  sandboxId: string;
  /** The CNI network ADD used (conflist name), null before ADD succeeded. */
  network: string | null;
  ip: string | null;
  createdAt: string;
  /** hostPort mappings passed to CNI ADD (and so to DEL). */
  portMappings: { hostPort: number; containerPort: number; protocol: string }[];
  /** The pod has finished and its sandbox was torn down (CNI DEL, namespace deleted). */
  sandboxReleased?: boolean;
  /** Pod files (resolv.conf, hosts, volumes) are in place. */
  prepared: boolean;
  containers: ContainerRecord[];
}

export function recordFile(podsDir: string, uid: string): string {
  return join(podsDir, uid, "record.json");
}

export function writePodRecord(podsDir: string, r: PodRecord): void {
  writeJsonAtomic(recordFile(podsDir, r.uid), r);
}

/** Every readable record under `podsDir`. */
export function readPodRecords(podsDir: string): PodRecord[] {
  let uids: string[];
  try {
    uids = readdirSync(podsDir);
  } catch {
    return [];
  }
  const out: PodRecord[] = [];
  for (const uid of uids) {
    try {
      out.push(JSON.parse(readFileSync(recordFile(podsDir, uid), "utf8")) as PodRecord);
    } catch {
      // A pod directory being made or removed.
    }
  }
  return out;
}

/**
 * The pod namespaces the lab kubelets of lab directory `labDir` recorded
 * (hostNetwork pods have none of their own), for `lab down`, which deletes
 * what the lab's records name.
 */
export function kubeletPodNamespaces(labDir: string): string[] {
  let nodes: string[];
  try {
    nodes = readdirSync(labDir).filter((d) => /^node\d+$/.test(d));
  } catch {
    return [];
  }
  return nodes.flatMap((n) => readPodRecords(join(labDir, n, "kubelet", "pods")).filter((r) => !r.hostNetwork).map((r) => r.netns));
}

/** The start time of `pid` (clock ticks since boot, as text), or null when it is gone or a zombie. */
export function processStart(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (rest[0] === "Z" || rest[0] === "X") return null;
  // Fields after "(comm)": state is field 3, starttime field 22.
  return rest[19] ?? null;
}

/** True when the recorded pid still runs the recorded process. */
export function stillRunning(pid: number | null, pidStart: string | null): boolean {
  return pid !== null && pidStart !== null && processStart(pid) === pidStart;
}
