/**
 * Everything about a lab that follows from its name: the namespaces it owns,
 * the underlay addresses, and the files under its directory. Nothing here
 * touches the system, so `up`, `down`, the runtime and the supervisor agree on
 * names without passing them around.
 *
 *     /run/weft/lab/NAME/
 *       state.json          what `up` built (lab/state.ts)
 *       supervisor.pid      the supervisor's pid, written by `up`
 *       supervisor.json     the supervised processes, written by the supervisor
 *       logs/               one log per supervised process and per pod
 *       pods/POD.json       one record per pod (the runtime's state)
 *       store/              the embedded store the agents share
 *       etcd/               etcd's data with --store etcd
 *       control/            the Kubernetes control plane (lab/control/paths.ts)
 *       nodeK/{run,lib,cni/net.d,cni/bin,cni/cache}
 *                           per-node paths: lab nodes share one filesystem
 *
 * /run/weft/lab is in memory, like /run itself on a usual Linux; where /run
 * lies on a disk filesystem it is a link to /dev/shm/weft/lab (lab-root.ts).
 *
 * Namespaces: NAME-sw (the underlay switch), NAME-outside (a host outside
 * the cluster at 192.168.125.1), NAME-control (the Kubernetes control plane
 * at 192.168.125.100, unless --no-kubernetes), NAME-nodeK (node K at
 * 192.168.125.(100+K)), NAME-pod-POD (one per pod made by `weft lab run`
 * without Kubernetes) or NAME-pod-NAMESPACE.POD (one per pod a lab kubelet
 * runs).
 */
import { join } from "node:path";
import { WeftError } from "../lib/errors.ts";

/** Where every lab keeps its directory. */
export const LAB_ROOT = "/run/weft/lab";
/** The lab name when `--name` is not given. */
export const DEFAULT_LAB_NAME = "lab";
/** The underlay every lab builds inside its own switch namespace. */
export const UNDERLAY_CIDR = "192.168.125.0/24";
/** The outside host's underlay address, also every node's default gateway. */
export const OUTSIDE_IP = "192.168.125.1";
/** The control plane's underlay address (the guides' kube0). */
export const CONTROL_IP = "192.168.125.100";
/** TCP port of the outside host's echo-source server. */
export const OUTSIDE_PORT = 8080;
/** The most nodes one underlay /24 holds at 192.168.125.(100+K). */
export const MAX_NODES = 154;

const LAB_NAME = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
const POD_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Checks a lab name: a DNS label of at most 32 characters without a `pod` segment. */
export function validateLabName(name: string): string {
  if (!LAB_NAME.test(name)) {
    throw new WeftError("LAB_NAME_INVALID", `invalid lab name "${name}"`, {
      hint: "use 1-32 lower-case letters, digits and dashes, starting and ending with a letter or digit",
    });
  }
  // "lab" owns every namespace called lab-pod-*, so a lab called "lab-pod-x"
  // would have its switch swept as lab's pod "x-sw".
  if (name.split("-").includes("pod")) {
    throw new WeftError("LAB_NAME_INVALID", `invalid lab name "${name}": "pod" is reserved as a name segment`, {
      hint: "choose a name without a -pod- part",
    });
  }
  return name;
}

/** Checks a pod name: a DNS label (the lab's pod names are unique across Kubernetes namespaces). */
export function validatePodName(name: string): string {
  if (!POD_NAME.test(name)) {
    throw new WeftError("POD_NAME_INVALID", `invalid pod name "${name}"`, {
      hint: "use 1-63 lower-case letters, digits and dashes, starting and ending with a letter or digit",
    });
  }
  return name;
}

/** The name of node K (1-based). */
export function nodeName(index: number): string {
  return `node${index}`;
}

/** Node K's underlay address. */
export function underlayIp(index: number): string {
  return `192.168.125.${100 + index}`;
}

/** The per-node directories; the agent and the CNI plugin get these instead of /run/weft and /var/lib/weft. */
export interface NodePaths {
  /** The node's directory in the lab directory. */
  dir: string;
  /** The agent's runtime dir (`--run-dir`): subnet.env and agent.sock live here. */
  runDir: string;
  /** The agent's state dir (`--state-dir`), and the CNI plugin's IPAM store. */
  stateDir: string;
  /** The subnet file the agent writes when it is ready. */
  subnetFile: string;
  /** The agent's status socket (serves /readyz). */
  agentSocket: string;
  /** Where the runtime looks for the node's network configuration (`/etc/cni/net.d`). */
  cniConfDir: string;
  /** The node's first CNI_PATH entry (`/opt/cni/bin`). */
  cniBinDir: string;
  /** The runtime's result cache for DEL (`/var/lib/cni`). */
  cniCacheDir: string;
}

/** Names and paths of one lab. */
export interface LabLayout {
  name: string;
  dir: string;
  stateFile: string;
  supervisorPidFile: string;
  supervisorStatusFile: string;
  logsDir: string;
  podsDir: string;
  storeDir: string;
  etcdDir: string;
  switchNs: string;
  outsideNs: string;
  /** The control plane's namespace, NAME-control (made only when the lab runs Kubernetes). */
  controlNs: string;
}

/** The layout of lab `name` (which must already be valid). */
export function labLayout(name: string): LabLayout {
  const dir = join(LAB_ROOT, name);
  return {
    name,
    dir,
    stateFile: join(dir, "state.json"),
    supervisorPidFile: join(dir, "supervisor.pid"),
    supervisorStatusFile: join(dir, "supervisor.json"),
    logsDir: join(dir, "logs"),
    podsDir: join(dir, "pods"),
    storeDir: join(dir, "store"),
    etcdDir: join(dir, "etcd"),
    switchNs: `${name}-sw`,
    outsideNs: `${name}-outside`,
    controlNs: `${name}-control`,
  };
}

/** The namespace of node `node` (e.g. "node2") in lab `lab`. */
export function nodeNs(lab: LabLayout, node: string): string {
  return `${lab.name}-${node}`;
}

/** The namespace of pod `pod` in lab `lab`. */
export function podNs(lab: LabLayout, pod: string): string {
  return `${lab.name}-pod-${pod}`;
}

/** The log file of a supervised process or pod called `what`. */
export function logFile(lab: LabLayout, what: string): string {
  return join(lab.logsDir, `${what}.log`);
}

/** The per-node directories of `node`. */
export function nodePaths(lab: LabLayout, node: string): NodePaths {
  const dir = join(lab.dir, node);
  const runDir = join(dir, "run");
  return {
    dir,
    runDir,
    stateDir: join(dir, "lib"),
    subnetFile: join(runDir, "subnet.env"),
    agentSocket: join(runDir, "agent.sock"),
    cniConfDir: join(dir, "cni", "net.d"),
    cniBinDir: join(dir, "cni", "bin"),
    cniCacheDir: join(dir, "cni", "cache"),
  };
}

/** True when namespace `ns` belongs to lab `lab` (its switch, outside host, control plane, a node or a pod). */
export function ownsNamespace(lab: LabLayout, ns: string): boolean {
  if (!ns.startsWith(`${lab.name}-`)) return false;
  const rest = ns.slice(lab.name.length + 1);
  // A lab kubelet's pods are NAME-pod-NAMESPACE.POD (lab/kubelet/sandbox.ts), hence the dots.
  return rest === "sw" || rest === "outside" || rest === "control" || /^node\d+$/.test(rest) || (rest.startsWith("pod-") && /^[a-z0-9][a-z0-9.-]*$/.test(rest.slice(4)));
}
