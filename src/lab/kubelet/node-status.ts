/**
 * The Node a lab kubelet registers and keeps up to date, as kubelet's
 * node status manager does: addresses (InternalIP = the node's underlay
 * address), the kubelet API endpoint, capacity, node info, and conditions.
 * Ready follows the container runtime's network readiness: only once a CNI
 * network configuration exists in the node's conf dir; until then NotReady
 * with the message every guide shows before a network add-on is applied.
 *
 * declaredFeatures lists ExtendWebSocketsToKubelet, so the API server
 * proxies `kubectl exec`'s WebSocket straight to this kubelet (server.ts)
 * instead of translating it to SPDY.
 */

/** The runtime's message while no CNI configuration exists (containerd's wording, as kubelet relays it). */
export const NETWORK_NOT_READY_MESSAGE =
  "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized";

export interface NodeFacts {
  name: string;
  ip: string;
  port: number;
  networkReady: boolean;
  cpus: number;
  memoryBytes: number;
  /** When the kubelet started (for the conditions' first transition). */
  now: string;
  kernel: string;
  osImage: string;
  arch: string;
  bootId: string;
  machineId: string;
  /** The Kubernetes release the lab runs, reported as the kubelet's version. */
  version: string;
}

/** Labels a kubelet puts on its Node at registration. */
export function nodeLabels(f: Pick<NodeFacts, "name" | "arch">): Record<string, string> {
  return { "kubernetes.io/hostname": f.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": f.arch, "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": f.arch };
}

/**
 * The status patch; `transitions` keeps each condition's status and last
 * transition time between calls (updated in place).
 */
export function nodeStatus(f: NodeFacts, transitions: Map<string, { status: string; at: string }>): Record<string, unknown> {
  const cond = (type: string, status: "True" | "False", reason: string, message: string) => {
    const prev = transitions.get(type);
    const at = prev && prev.status === status ? prev.at : f.now;
    transitions.set(type, { status, at });
    return { type, status, reason, message, lastHeartbeatTime: f.now, lastTransitionTime: at };
  };
  const capacity = { cpu: String(f.cpus), memory: `${Math.floor(f.memoryBytes / 1024)}Ki`, pods: "110", "ephemeral-storage": "10Gi" };
  return {
    addresses: [
      { type: "InternalIP", address: f.ip },
      { type: "Hostname", address: f.name },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: f.port } },
    capacity,
    allocatable: capacity,
    nodeInfo: {
      machineID: f.machineId,
      systemUUID: f.machineId,
      bootID: f.bootId,
      kernelVersion: f.kernel,
      osImage: f.osImage,
      containerRuntimeVersion: "weft-lab://1",
      kubeletVersion: f.version,
      kubeProxyVersion: "",
      operatingSystem: "linux",
      architecture: f.arch,
    },
    declaredFeatures: ["ExtendWebSocketsToKubelet"],
    conditions: [
      cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
      cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
      cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
      f.networkReady
        ? cond("Ready", "True", "KubeletReady", "kubelet is posting ready status")
        : cond("Ready", "False", "KubeletNotReady", NETWORK_NOT_READY_MESSAGE),
    ],
  };
}
