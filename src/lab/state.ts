/**
 * The lab's records on disk: state.json, written once by `up` (what was
 * built and what the supervisor must run), and one file per pod under pods/,
 * written by the runtime. A file per pod means concurrent `lab run` and
 * `lab rm` never rewrite each other's records, and creating the file with
 * O_EXCL is what reserves a pod name.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { WeftError } from "../lib/errors.ts";
import type { LabLayout } from "./layout.ts";
import type { ProcessSpec } from "./supervisor.ts";

/** The pod-network backends the agent implements. */
export const BACKENDS = ["vxlan", "host-gw"] as const;
export type Backend = (typeof BACKENDS)[number];
/** The stores a lab can give its agents. */
export const STORES = ["embedded", "etcd"] as const;
export type Store = (typeof STORES)[number];

/** One node of the lab. */
export interface LabNode {
  /** e.g. "node1"; also the Kubernetes node name the agent registers. */
  name: string;
  /** 1-based. */
  index: number;
  /** The node's network namespace, e.g. "lab-node1". */
  netns: string;
  /** The node's address on the underlay, e.g. "192.168.125.101". */
  underlayIp: string;
}

/** state.json: what `weft lab up` built. */
export interface LabState {
  name: string;
  createdAt: string;
  backend: Backend;
  store: Store;
  /** The cluster CIDR the agents lease node subnets from. */
  podCidr: string;
  /** The underlay interface the agents are told to use (`--iface`), or null for the agent's own choice. */
  iface: string | null;
  /** The scenario applied on top of the plain topology, or null. */
  scenario: string | null;
  /** True when the lab runs a Kubernetes control plane (false with --no-kubernetes). */
  kubernetes: boolean;
  /**
   * With Kubernetes, the network add-on `up` applies: `weft` (deploy/weft.yaml,
   * whose DaemonSet runs the agents) or `none` (nodes stay NotReady until one
   * is applied). Absent in older state files and in --no-kubernetes labs,
   * whose agents the lab runs itself.
   */
  addon?: "weft" | "none";
  nodes: LabNode[];
  /** Everything the supervisor runs: one agent per node, the outside server, etcd, the control plane. */
  daemons: ProcessSpec[];
}

/** A `--port HOST:CONTAINER[/PROTO]` mapping, in the shape of the portMappings capability. */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp" | "sctp";
}

/** A pod as the runtime recorded it. */
export interface PodRecord {
  name: string;
  /** The Kubernetes namespace (K8S_POD_NAMESPACE). */
  namespace: string;
  node: string;
  labels: Record<string, string>;
  /** The sandbox id passed to the CNI plugins as CNI_CONTAINERID. */
  containerId: string;
  /** The pod's network namespace, e.g. "lab-pod-web". */
  netns: string;
  /** The CNI network name (the conflist's `name`) ADD used, null before ADD; names DEL's cache entry. */
  network: string | null;
  /** The first IP of the CNI result, null until the network is set up. */
  ip: string | null;
  /** The pid of the pod's command (its process group leader), null until started. */
  pid: number | null;
  /** When `pid` started (procs.ts startTime), so a reused pid is never taken for it; null until started. */
  pidStart?: number | null;
  /** The nsfs inode of the pod's namespace, which finds its processes after its name is deleted; null before it exists. */
  netnsInode?: number | null;
  /** Host ports mapped to the pod (the portMappings capability arg). */
  ports: PortMapping[];
  command: string[];
  createdAt: string;
}

/** Error code: the lab has no state.json. */
export const LAB_NOT_UP = "LAB_NOT_UP";

/** Reads state.json; throws LAB_NOT_UP when the lab is not up. */
export function readLabState(lab: LabLayout): LabState {
  let text: string;
  try {
    text = readFileSync(lab.stateFile, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      if (existsSync(lab.dir)) {
        throw new WeftError(LAB_NOT_UP, `lab ${lab.name} is not up: its up is still running or did not finish`, { hint: `wait for it, or run weft lab down --name ${lab.name}` });
      }
      throw new WeftError(LAB_NOT_UP, `lab ${lab.name} is not up`, { hint: `run weft lab up --name ${lab.name}` });
    }
    throw err;
  }
  return JSON.parse(text) as LabState;
}

/** Writes state.json atomically. */
export function writeLabState(lab: LabLayout, state: LabState): void {
  writeJsonAtomic(lab.stateFile, state);
}

/** The node called `node`, or a NODE_NOT_FOUND error listing the lab's nodes. */
export function findNode(state: LabState, node: string): LabNode {
  const found = state.nodes.find((n) => n.name === node);
  if (!found) {
    throw new WeftError("NODE_NOT_FOUND", `lab ${state.name} has no node "${node}"`, {
      hint: `its nodes are ${state.nodes.map((n) => n.name).join(", ")}`,
    });
  }
  return found;
}

function podFile(lab: LabLayout, pod: string): string {
  return join(lab.podsDir, `${pod}.json`);
}

/** Creates a pod's record; throws POD_EXISTS when the name is taken. */
export function createPodRecord(lab: LabLayout, record: PodRecord): void {
  mkdirSync(lab.podsDir, { recursive: true });
  try {
    writeFileSync(podFile(lab, record.name), JSON.stringify(record, null, 2) + "\n", { flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      throw new WeftError("POD_EXISTS", `pod ${record.name} already exists in lab ${lab.name}`, {
        hint: `remove it first with weft lab rm ${record.name}${lab.name === "lab" ? "" : ` --name ${lab.name}`}`,
      });
    }
    throw err;
  }
}

/** Replaces a pod's record. */
export function updatePodRecord(lab: LabLayout, record: PodRecord): void {
  writeJsonAtomic(podFile(lab, record.name), record);
}

/** A pod's record, or undefined. */
export function readPodRecord(lab: LabLayout, pod: string): PodRecord | undefined {
  try {
    return JSON.parse(readFileSync(podFile(lab, pod), "utf8")) as PodRecord;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Every pod record, sorted by name; a half-written record is skipped. */
export function readPodRecords(lab: LabLayout): PodRecord[] {
  let names: string[];
  try {
    names = readdirSync(lab.podsDir).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  const records: PodRecord[] = [];
  for (const f of names.sort()) {
    try {
      records.push(JSON.parse(readFileSync(join(lab.podsDir, f), "utf8")) as PodRecord);
    } catch {
      // Being created or removed right now.
    }
  }
  return records;
}

/** Removes a pod's record; a missing record is fine. */
export function removePodRecord(lab: LabLayout, pod: string): void {
  rmSync(podFile(lab, pod), { force: true });
}

/** Writes JSON to a temporary file and renames it over `path`, so readers never see half. */
export function writeJsonAtomic(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n");
  renameSync(tmp, path);
}
