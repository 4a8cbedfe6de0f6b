/**
 * The kubernetes store: the cluster is the lease table, as with flannel's
 * kube subnet manager. A node's subnet is its Node's spec.podCIDR, which
 * kube-controller-manager allocates (--allocate-node-cidrs --cluster-cidr);
 * what peers need of it lives in annotations on the Node:
 *
 *   weft.dev/public-ip     the underlay address peers send to
 *   weft.dev/backend       vxlan | host-gw
 *   weft.dev/backend-data  JSON of the backend's data, e.g. {"vtepMac":"…"}
 *
 *   acquire     wait for this Node and its podCIDR (one log line while
 *               waiting), check it lies in the configured cluster CIDR,
 *               then publish the annotations
 *   renew       publish the annotations again when they changed; the
 *               lease is lost when the podCIDR changed or the Node is gone
 *   release     remove the annotations (`weft agent --cleanup`)
 *   programmed  NetworkUnavailable=False on the Node
 *   list/watch  every Node with a podCIDR and the annotations; a Node
 *               without them yet is no peer and no error
 *
 * A lease here lives as long as its Node, so expiresAt is the end of time
 * (NODE_LEASE_EXPIRY) and the TTL is not used. @kubernetes/client-node is
 * loaded on first use, so agents on the other stores never pay its ~40 MB.
 */
import { WeftError } from "../../lib/errors.ts";
import { contains, formatPrefix, parsePrefix } from "../../lib/ipv4.ts";
import type { Kube } from "../../kube/client.ts";
import type { KubeNode, NodeWatch } from "../../kube/nodes.ts";
import type { AcquireOptions, Acquired } from "../acquire.ts";
import { WatchSet } from "../watch-set.ts";
import {
  bySubnet, checkAttrs, checkOpen, checkSubnet, diffLeases, leaseLost, STORE_ERROR, STORE_UNAVAILABLE,
  type Lease, type LeaseAttrs, type LeaseEvent, type SubnetStore,
} from "../types.ts";

/** A kubernetes "lease" lasts as long as the Node: the latest time a Date can hold. */
export const NODE_LEASE_EXPIRY = 8.64e15;
/** Error code: the Node's podCIDR lies outside the cluster CIDR weft is configured with. */
export const POD_CIDR_MISMATCH = "POD_CIDR_MISMATCH";

/** Options of the kubernetes store. */
export interface KubernetesStoreOptions {
  /** A kubeconfig file; default: the in-cluster configuration (service-account token). */
  kubeconfig?: string | undefined;
}

/** The lease a Node stands for, or undefined while it has no podCIDR or no weft annotations. */
export function leaseOfNode(node: KubeNode): Lease | undefined {
  const cidr = node.podCidrs.find((c) => !c.includes(":"));
  const { "public-ip": publicIp, backend, "backend-data": data } = node.weft;
  if (cidr === undefined || publicIp === undefined || backend === undefined) return undefined;
  let backendData: Record<string, string> = {};
  try {
    const parsed: unknown = data === undefined ? {} : JSON.parse(data);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === "string")) return undefined;
    backendData = parsed as Record<string, string>;
  } catch {
    return undefined;
  }
  let subnet: string;
  try {
    subnet = formatPrefix(parsePrefix(cidr));
  } catch {
    return undefined;
  }
  return { subnet, attrs: { node: node.name, publicIp, backend, backendData }, expiresAt: NODE_LEASE_EXPIRY };
}

/** The annotations that publish `attrs`. */
export function annotationsOf(attrs: LeaseAttrs): Record<string, string> {
  const data: Record<string, string> = {};
  for (const k of Object.keys(attrs.backendData).sort()) data[k] = attrs.backendData[k]!;
  return { "public-ip": attrs.publicIp, backend: attrs.backend, "backend-data": JSON.stringify(data) };
}

/** Any failure of the API as the store's error: unreachable or 5xx is STORE_UNAVAILABLE (retried), the rest STORE_ERROR. */
function storeError(err: unknown, doing: string, server: string): WeftError {
  if (err instanceof WeftError) return err;
  const code = (err as { code?: unknown }).code;
  const status = typeof code === "number" ? code : undefined;
  const body = (err as { body?: unknown }).body;
  let detail = err instanceof Error ? err.message.split("\n")[0]! : String(err);
  try {
    const parsed = typeof body === "string" ? JSON.parse(body) : body;
    if (parsed && typeof parsed.message === "string") detail = `${parsed.message} (HTTP ${status})`;
  } catch {
    // not a Status object
  }
  if (status === undefined || status >= 500) {
    return new WeftError(STORE_UNAVAILABLE, `the Kubernetes API server ${server} cannot be reached while ${doing}: ${detail}`, { cause: err });
  }
  return new WeftError(STORE_ERROR, `the Kubernetes API server ${server} refused ${doing}: ${detail}`, {
    hint: status === 403 ? "check the weft ClusterRole (deploy/weft.yaml): it needs get/list/watch/patch on nodes and patch on nodes/status" : undefined,
    cause: err,
  });
}

/** A SubnetStore on the Kubernetes API: Nodes are the leases. */
export class KubernetesStore implements SubnetStore {
  readonly #options: KubernetesStoreOptions;
  #kube: Promise<Kube> | undefined;
  #nodes: NodeWatch | undefined;
  /** Called with every Node after each change the informer sees. */
  readonly #listeners = new Set<(nodes: KubeNode[]) => void>();
  readonly #errorListeners = new Set<(err: WeftError) => void>();
  readonly #watches = new WatchSet();
  #closed = false;

  constructor(options: KubernetesStoreOptions = {}) {
    this.#options = options;
  }

  /** Where the API server is, for messages. */
  get location(): string {
    return this.#options.kubeconfig ? `kubeconfig ${this.#options.kubeconfig}` : `in-cluster ${process.env.KUBERNETES_SERVICE_HOST ?? "?"}:${process.env.KUBERNETES_SERVICE_PORT ?? "?"}`;
  }

  #client(): Promise<Kube> {
    this.#kube ??= (async () => {
      const { connectKube, connectInCluster } = await import("../../kube/client.ts");
      return this.#options.kubeconfig ? connectKube(this.#options.kubeconfig) : connectInCluster();
    })();
    return this.#kube;
  }

  async #call<T>(doing: string, f: (kube: Kube) => Promise<T>): Promise<T> {
    checkOpen(this.#closed, "the kubernetes store");
    const kube = await this.#client();
    try {
      return await f(kube);
    } catch (err) {
      throw storeError(err, doing, kube.config.getCurrentCluster()?.server ?? this.location);
    }
  }

  /** The node informer, started on first use; every listener sees each change. */
  async #informer(): Promise<NodeWatch> {
    if (this.#nodes) return this.#nodes;
    const kube = await this.#client();
    const { watchNodes } = await import("../../kube/nodes.ts");
    const server = kube.config.getCurrentCluster()?.server ?? this.location;
    this.#nodes ??= watchNodes(kube, {
      changed: (nodes) => {
        for (const l of this.#listeners) l(nodes);
      },
      error: (err) => {
        const e = storeError(err, "watching the Nodes", server);
        for (const l of this.#errorListeners) l(e);
      },
    });
    return this.#nodes;
  }

  /** Resolves with this node's Node once it exists with a podCIDR; logs once while waiting. */
  async #assignedNode(name: string, log: (line: string) => void): Promise<KubeNode> {
    const { getNode } = await import("../../kube/nodes.ts");
    const now = await this.#call(`reading Node ${name}`, (kube) => getNode(kube, name));
    if (now && now.podCidrs.length > 0) return now;
    log(now === null
      ? `waiting for Node ${name} to be registered (by its kubelet)`
      : `waiting for Node ${name}'s spec.podCIDR: kube-controller-manager allocates it when run with --allocate-node-cidrs and --cluster-cidr`);
    const informer = await this.#informer();
    return new Promise((resolve, reject) => {
      const check = (nodes: KubeNode[]) => {
        const n = nodes.find((x) => x.name === name);
        if (n && n.podCidrs.length > 0) {
          this.#listeners.delete(check);
          this.#closers.delete(onClose);
          resolve(n);
        }
      };
      const onClose = () => {
        this.#listeners.delete(check);
        reject(new WeftError("STORE_CLOSED", "the kubernetes store closed while waiting for the node's podCIDR"));
      };
      this.#listeners.add(check);
      this.#closers.add(onClose);
      check(informer.list());
    });
  }

  readonly #closers = new Set<() => void>();

  async acquire(o: AcquireOptions): Promise<Acquired> {
    checkAttrs(o.attrs);
    const node = await this.#assignedNode(o.attrs.node, o.log ?? (() => {}));
    const cidr = node.podCidrs.find((c) => !c.includes(":"));
    if (cidr === undefined) {
      throw new WeftError(POD_CIDR_MISMATCH, `Node ${node.name} has only IPv6 podCIDRs (${node.podCidrs.join(", ")}); weft needs an IPv4 one`);
    }
    const subnet = formatPrefix(parsePrefix(cidr, "spec.podCIDR"));
    const cluster = parsePrefix(o.range.podCidr);
    const p = parsePrefix(subnet);
    if (!contains(cluster, p.base) || p.len < cluster.len) {
      throw new WeftError(POD_CIDR_MISMATCH, `Node ${node.name}'s spec.podCIDR ${subnet} is outside the cluster CIDR ${o.range.podCidr} weft is configured with`, {
        hint: "set weft's podCidr (ConfigMap weft-config, or --pod-cidr) to kube-controller-manager's --cluster-cidr",
      });
    }
    const attrs = o.dataFor ? { ...o.attrs, backendData: o.dataFor(subnet) } : o.attrs;
    return { lease: await this.#publish(node, subnet, attrs), origin: "assigned" };
  }

  /** Writes the annotations for `attrs` unless the Node already carries them; returns the lease. */
  async #publish(node: KubeNode, subnet: string, attrs: LeaseAttrs): Promise<Lease> {
    const want = annotationsOf(attrs);
    if (Object.entries(want).some(([k, v]) => node.weft[k] !== v)) {
      const { patchWeftAnnotations } = await import("../../kube/nodes.ts");
      await this.#call(`publishing Node ${node.name}'s weft.dev annotations`, (kube) => patchWeftAnnotations(kube, node.name, want));
    }
    return { subnet, attrs: { ...attrs }, expiresAt: NODE_LEASE_EXPIRY };
  }

  async programmed(lease: Lease): Promise<void> {
    const { setNetworkUnavailable } = await import("../../kube/nodes.ts");
    await this.#call(`setting Node ${lease.attrs.node}'s NetworkUnavailable condition`, (kube) =>
      setNetworkUnavailable(kube, lease.attrs.node, false, "WeftIsUp", `weft programmed routes to every peer for ${lease.subnet}`),
    );
  }

  async nodeAddress(node: string): Promise<string | undefined> {
    const { getNode } = await import("../../kube/nodes.ts");
    return (await this.#call(`reading Node ${node}`, (kube) => getNode(kube, node)))?.internalIp ?? undefined;
  }

  /** Not how this store leases: the cluster assigns subnets (acquire). */
  async createIfAbsent(subnet: string): Promise<Lease | undefined> {
    throw new WeftError(STORE_ERROR, `the kubernetes store does not lease ${subnet} on request: each node's subnet is its Node's spec.podCIDR`, {
      hint: "let kube-controller-manager allocate node CIDRs (--allocate-node-cidrs)",
    });
  }

  async renew(subnet: string, attrs: LeaseAttrs, _ttlSeconds?: number): Promise<Lease> {
    checkAttrs(attrs);
    subnet = checkSubnet(subnet);
    const { getNode } = await import("../../kube/nodes.ts");
    const node = await this.#call(`reading Node ${attrs.node}`, (kube) => getNode(kube, attrs.node));
    if (node === null) throw leaseLost(subnet, attrs.node, "its Node object is gone");
    const cidrs = node.podCidrs.map((c) => formatPrefix(parsePrefix(c, "spec.podCIDR")));
    if (!cidrs.includes(subnet)) throw leaseLost(subnet, attrs.node, `its Node's spec.podCIDR is now ${cidrs.join(", ") || "unset"}`);
    return this.#publish(node, subnet, attrs);
  }

  async get(subnet: string): Promise<Lease | undefined> {
    subnet = checkSubnet(subnet);
    return (await this.list()).find((l) => l.subnet === subnet);
  }

  async list(): Promise<Lease[]> {
    const { listNodes } = await import("../../kube/nodes.ts");
    const nodes = await this.#call("listing the Nodes", (kube) => listNodes(kube));
    return leasesOf(nodes);
  }

  async release(subnet: string, node: string): Promise<void> {
    subnet = checkSubnet(subnet);
    const { getNode, patchWeftAnnotations } = await import("../../kube/nodes.ts");
    const current = await this.#call(`reading Node ${node}`, (kube) => getNode(kube, node));
    if (current === null || !current.podCidrs.some((c) => formatPrefix(parsePrefix(c)) === subnet) || Object.keys(current.weft).length === 0) return;
    const none = Object.fromEntries(Object.keys(current.weft).map((k) => [k, null]));
    await this.#call(`removing Node ${node}'s weft.dev annotations`, (kube) => patchWeftAnnotations(kube, node, none));
  }

  watch(onEvent: (event: LeaseEvent) => void, onError?: (err: WeftError) => void): () => void {
    checkOpen(this.#closed, "the kubernetes store");
    let known = new Map<string, Lease>();
    const listener = (nodes: KubeNode[]) => {
      const now = new Map(leasesOf(nodes).map((l) => [l.subnet, l]));
      for (const e of diffLeases(known, now)) onEvent(e);
      known = now;
    };
    const errors = (err: WeftError) => onError?.(err);
    this.#listeners.add(listener);
    this.#errorListeners.add(errors);
    void this.#informer()
      .then((informer) => informer.synced.then(() => listener(informer.list())))
      .catch((err) => onError?.(storeError(err, "watching the Nodes", this.location)));
    return this.#watches.track(() => {
      this.#listeners.delete(listener);
      this.#errorListeners.delete(errors);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watches.stopAll();
    for (const c of [...this.#closers]) c();
    this.#closers.clear();
    await this.#nodes?.stop();
  }
}

/** The leases of `nodes` (those with a podCIDR and weft's annotations), in subnet order. */
function leasesOf(nodes: readonly KubeNode[]): Lease[] {
  return nodes.map(leaseOfNode).filter((l): l is Lease => l !== undefined).sort(bySubnet);
}
