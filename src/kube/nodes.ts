/**
 * Nodes as the agent's kubernetes store sees them (store/kubernetes/), with
 * the verbs it uses: watch every Node, publish this node's weft.dev/*
 * annotations, set its NetworkUnavailable condition. The library's V1Node
 * stops here; callers get KubeNode.
 */
import { PatchStrategy, setHeaderOptions, type V1Node } from "@kubernetes/client-node";
import { apiStatus, startInformer, type Kube } from "./client.ts";

/** The annotations weft publishes on its Node, under this prefix. */
export const ANNOTATION_PREFIX = "weft.dev/";

/** A Node, slim: what peers are programmed from. */
export interface KubeNode {
  name: string;
  /** spec.podCIDRs (or spec.podCIDR), as the controller manager allocated them; empty until then. */
  podCidrs: string[];
  /** The first InternalIP in status.addresses, or null. */
  internalIp: string | null;
  /** The weft.dev/* annotations, by their name without the prefix. */
  weft: Record<string, string>;
}

export function fromV1Node(n: V1Node): KubeNode {
  const podCidrs = n.spec?.podCIDRs?.length ? n.spec.podCIDRs : n.spec?.podCIDR ? [n.spec.podCIDR] : [];
  const weft: Record<string, string> = {};
  for (const [k, v] of Object.entries(n.metadata?.annotations ?? {})) {
    if (k.startsWith(ANNOTATION_PREFIX)) weft[k.slice(ANNOTATION_PREFIX.length)] = v;
  }
  return {
    name: n.metadata?.name ?? "",
    podCidrs,
    internalIp: n.status?.addresses?.find((a) => a.type === "InternalIP")?.address ?? null,
    weft,
  };
}

/**
 * The part of a Node fromV1Node reads, plus the name and resourceVersion
 * the informer keys and compares by: what the node informer caches. A
 * kubelet's Node also carries its images, conditions, capacity and
 * managedFields, several kB each, which the agent never reads.
 */
export function slimV1Node(n: V1Node): V1Node {
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(n.metadata?.annotations ?? {})) if (k.startsWith(ANNOTATION_PREFIX)) annotations[k] = v;
  const internal = n.status?.addresses?.find((a) => a.type === "InternalIP");
  return {
    metadata: { name: n.metadata?.name ?? "", resourceVersion: n.metadata?.resourceVersion ?? "", annotations },
    spec: { ...(n.spec?.podCIDR !== undefined && { podCIDR: n.spec.podCIDR }), ...(n.spec?.podCIDRs !== undefined && { podCIDRs: n.spec.podCIDRs }) },
    status: internal ? { addresses: [internal] } : {},
  };
}

/** What a node informer reports: the whole set after every change, so a caller diffs states rather than events. */
export interface NodeEvents {
  changed(nodes: KubeNode[]): void;
  error(err: unknown): void;
}

/** A running node informer. */
export interface NodeWatch {
  /** Every Node the informer holds now. */
  list(): KubeNode[];
  /** Resolves once the first list has been delivered. */
  synced: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Watches every Node (startInformer, caching slimV1Node of each), reporting
 * the whole set after every change and after the first list.
 */
export function watchNodes(kube: Kube, events: NodeEvents): NodeWatch {
  const report = () => events.changed(w.informer.list().map(fromV1Node));
  const w = startInformer<V1Node>(kube, "/api/v1/nodes", { add: report, update: report, delete: report, error: events.error }, { slim: slimV1Node, listed: report });
  return { list: () => w.informer.list().map(fromV1Node), synced: w.synced, stop: w.stop };
}

/** Reads one Node, slim, or null when it does not exist. */
export async function getNode(kube: Kube, name: string): Promise<KubeNode | null> {
  try {
    return fromV1Node(await kube.core.readNode({ name }));
  } catch (err) {
    if (apiStatus(err) === 404) return null;
    throw err;
  }
}

/** Lists every Node, slim. */
export async function listNodes(kube: Kube): Promise<KubeNode[]> {
  return (await kube.core.listNode()).items.map(fromV1Node);
}

const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const STRATEGIC_MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);

/** Sets (string) or removes (null) weft.dev/* annotations on a Node; `values` are keyed without the prefix. */
export async function patchWeftAnnotations(kube: Kube, name: string, values: Record<string, string | null>): Promise<KubeNode> {
  const annotations = Object.fromEntries(Object.entries(values).map(([k, v]) => [ANNOTATION_PREFIX + k, v]));
  return fromV1Node(await kube.core.patchNode({ name, body: { metadata: { annotations } } }, MERGE_PATCH));
}

/**
 * Sets the Node's NetworkUnavailable condition, as routed add-ons do once
 * the node's routes are in place (strategic merge: conditions are merged
 * by type, the other conditions kubelet owns are kept).
 */
export async function setNetworkUnavailable(kube: Kube, name: string, unavailable: boolean, reason: string, message: string): Promise<void> {
  const now = new Date().toISOString();
  const condition = { type: "NetworkUnavailable", status: unavailable ? "True" : "False", reason, message, lastTransitionTime: now, lastHeartbeatTime: now };
  await kube.core.patchNodeStatus({ name, body: { status: { conditions: [condition] } } }, STRATEGIC_MERGE_PATCH);
}
