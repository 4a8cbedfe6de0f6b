/**
 * What doctor reads of the cluster when the nodes' agents use the
 * kubernetes store: every Node (podCIDR, weft.dev annotations), and how
 * the controller manager allocates node CIDRs, from where kubeadm (and
 * kind, and the lab) leave it: the ClusterConfiguration in ConfigMap
 * kube-system/kubeadm-config (networking.podSubnet), and the flags of a
 * kube-controller-manager static pod when there is one.
 */
import type { V1ConfigMap, V1EndpointSlice, V1Node, V1Pod, V1Service } from "@kubernetes/client-node";
import type { EndpointSlice, Service } from "../proxy/types.ts";
import type { Kube } from "../kube/client.ts";
import type { KubeNode } from "../kube/nodes.ts";

/** How kube-controller-manager hands out node CIDRs, as far as the cluster tells. */
export interface NodeCidrAllocation {
  /** --cluster-cidr (or kubeadm's networking.podSubnet), or null when unknown. */
  clusterCidr: string | null;
  /** --allocate-node-cidrs, or null when unknown. */
  allocateNodeCidrs: boolean | null;
  /** Where those came from, for messages, e.g. "kube-system/kubeadm-config". */
  source: string;
}

/** The cluster as doctor sees it. */
export interface KubeFacts {
  nodes: KubeNode[];
  allocation: NodeCidrAllocation | null;
  /** Every Service and IPv4 EndpointSlice, as the service proxy sees them (src/kube conversions). */
  services: Service[];
  slices: EndpointSlice[];
}

/** The proxy's view of listed Services and EndpointSlices. */
async function slimServices(services: V1Service[], slices: V1EndpointSlice[]): Promise<Pick<KubeFacts, "services" | "slices">> {
  const [{ fromV1Service }, { fromV1EndpointSlice }] = await Promise.all([import("../kube/services.ts"), import("../kube/endpointslices.ts")]);
  return { services: services.flatMap((s) => fromV1Service(s) ?? []), slices: slices.flatMap((s) => fromV1EndpointSlice(s) ?? []) };
}

/** The value of `--name=value` or `--name value` in `args`; "true" for a bare `--name`. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === `--${name}`) return args[i + 1] !== undefined && !args[i + 1]!.startsWith("--") ? args[i + 1] : "true";
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

/** kubeadm's ClusterConfiguration text → networking.podSubnet (a YAML scalar on its own line). */
export function podSubnetOf(clusterConfiguration: string): string | null {
  const m = /^\s*podSubnet:\s*"?([0-9a-fA-F.:/,]+)"?\s*$/m.exec(clusterConfiguration);
  return m ? m[1]!.split(",")[0]! : null;
}

/** Reads the Nodes and the CIDR allocation; the allocation is null when the cluster records it nowhere doctor knows. */
export async function readKubeFacts(kube: Kube): Promise<KubeFacts> {
  const { listNodes } = await import("../kube/nodes.ts");
  const nodes = await listNodes(kube);
  const pods = await kube.core.listNamespacedPod({ namespace: "kube-system", labelSelector: "component=kube-controller-manager" });
  const { DiscoveryV1Api } = await import("@kubernetes/client-node");
  const [services, slices] = await Promise.all([kube.core.listServiceForAllNamespaces(), kube.config.makeApiClient(DiscoveryV1Api).listEndpointSliceForAllNamespaces()]);
  return { nodes, allocation: fromControllerPod(pods.items[0]) ?? (await fromKubeadmConfig(kube)), ...(await slimServices(services.items, slices.items)) };
}

/**
 * The same facts read with kubectl (`kubectl` runs it with the given
 * arguments and returns stdout), for a lab, whose API server the host's
 * namespace cannot reach.
 */
export async function readKubeFactsWithKubectl(kubectl: (args: string[]) => Promise<string>): Promise<KubeFacts> {
  const { fromV1Node } = await import("../kube/nodes.ts");
  const nodes = (JSON.parse(await kubectl(["get", "nodes", "-o", "json"])) as { items: V1Node[] }).items.map(fromV1Node);
  const pods = JSON.parse(await kubectl(["get", "pods", "-n", "kube-system", "-l", "component=kube-controller-manager", "-o", "json"])) as { items: V1Pod[] };
  const cm = JSON.parse(await kubectl(["get", "configmap", "-n", "kube-system", "--field-selector", "metadata.name=kubeadm-config", "-o", "json"])) as { items: V1ConfigMap[] };
  const services = JSON.parse(await kubectl(["get", "services", "--all-namespaces", "-o", "json"])) as { items: V1Service[] };
  const slices = JSON.parse(await kubectl(["get", "endpointslices", "--all-namespaces", "-o", "json"])) as { items: V1EndpointSlice[] };
  return { nodes, allocation: fromControllerPod(pods.items[0]) ?? fromClusterConfiguration(cm.items[0]?.data?.ClusterConfiguration), ...(await slimServices(services.items, slices.items)) };
}

function fromControllerPod(pod: V1Pod | undefined): NodeCidrAllocation | null {
  const c = pod?.spec?.containers?.[0];
  if (!pod || !c) return null;
  const args = [...(c.command ?? []), ...(c.args ?? [])];
  const allocate = flagValue(args, "allocate-node-cidrs");
  return {
    clusterCidr: flagValue(args, "cluster-cidr") ?? null,
    allocateNodeCidrs: allocate === undefined ? false : allocate === "true",
    source: `kube-system/${pod.metadata?.name ?? "kube-controller-manager"}`,
  };
}

async function fromKubeadmConfig(kube: Kube): Promise<NodeCidrAllocation | null> {
  try {
    const cm = await kube.core.readNamespacedConfigMap({ namespace: "kube-system", name: "kubeadm-config" });
    return fromClusterConfiguration(cm.data?.ClusterConfiguration);
  } catch (err) {
    if ((err as { code?: number }).code === 404) return null;
    throw err;
  }
}

function fromClusterConfiguration(text: string | undefined): NodeCidrAllocation | null {
  if (text === undefined) return null;
  const podSubnet = podSubnetOf(text);
  // kubeadm passes --allocate-node-cidrs exactly when it has a podSubnet.
  return { clusterCidr: podSubnet, allocateNodeCidrs: podSubnet !== null, source: "kube-system/kubeadm-config" };
}
