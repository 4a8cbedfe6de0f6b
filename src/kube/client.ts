/**
 * The one place weft talks to the Kubernetes API, on @kubernetes/client-node
 * (pinned in package.json; the field's well-kept client, with list/watch
 * informers). Callers get slim internal types (kube/pod.ts) and a handful of
 * verbs; nothing outside src/kube/ imports the library's V1* models.
 */
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  ListWatch,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
  Watch,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Lease,
  type V1Node,
  type V1Pod,
} from "@kubernetes/client-node";
import { WeftError } from "../lib/errors.ts";
import { listAll } from "./list.ts";
import { kubeRequest, MERGE_PATCH_BODY, seg } from "./request.ts";
import { LeanWatch } from "./watch.ts";
import { fromV1Pod, type Pod } from "./pod.ts";

/** Clients built from one kubeconfig. */
export interface Kube {
  config: KubeConfig;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
}

/**
 * A KubeConfig whose requests share one connection pool. The library makes
 * a new undici Agent, so a new TLS connection and handshake, for every API
 * request; a kubelet starting ten pods then spent more of its CPU on TLS
 * than on its work. The pool is built by the library from the first
 * request's options (one cluster and one user: every request's are the same).
 */
class PooledKubeConfig extends KubeConfig {
  #dispatcher: unknown;

  override async applySecurityAuthentication(context: Parameters<KubeConfig["applySecurityAuthentication"]>[0]): Promise<void> {
    await super.applySecurityAuthentication(context);
    const made = context.getDispatcher();
    if (made === undefined) return;
    this.#dispatcher ??= made;
    context.setDispatcher(this.#dispatcher as typeof made);
  }
}

/** Loads `kubeconfigPath` and makes the API clients; a missing or unreadable file is KUBECONFIG_INVALID. */
export function connectKube(kubeconfigPath: string): Kube {
  const config = new PooledKubeConfig();
  try {
    config.loadFromFile(kubeconfigPath);
  } catch (err) {
    throw new WeftError("KUBECONFIG_INVALID", `cannot load kubeconfig ${kubeconfigPath}: ${(err as Error).message}`, {
      hint: "check the path (weft lab kubeconfig prints the lab's)",
      cause: err,
    });
  }
  return { config, core: config.makeApiClient(CoreV1Api), coordination: config.makeApiClient(CoordinationV1Api) };
}

/**
 * The clients of a process running in a pod: the API server from
 * KUBERNETES_SERVICE_HOST/PORT, the pod's service-account token and CA.
 */
export function connectInCluster(): Kube {
  const config = new PooledKubeConfig();
  try {
    config.loadFromCluster();
  } catch (err) {
    throw new WeftError("KUBECONFIG_INVALID", `cannot use the in-cluster configuration: ${(err as Error).message}`, {
      hint: "run in a pod with a service account, or pass --kubeconfig",
      cause: err,
    });
  }
  return { config, core: config.makeApiClient(CoreV1Api), coordination: config.makeApiClient(CoordinationV1Api) };
}

/** The HTTP status of an API error, or undefined for anything else (connection refused, ...). */
export function apiStatus(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** The API server's own message for an API error, else the error's message. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    try {
      const body = typeof err.body === "string" ? JSON.parse(err.body) : err.body;
      if (body && typeof body.message === "string") return `${body.message} (HTTP ${err.code})`;
    } catch {
      // Not a Status object.
    }
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** What a pod informer reports. */
export interface PodEvents {
  upsert(pod: Pod): void;
  remove(pod: Pod): void;
  error(err: unknown): void;
}

/** A running informer. */
export interface PodWatch {
  /** Every pod the informer holds now. */
  list(): Pod[];
  /** Resolves once a first list has been delivered (every pod in it reported through upsert). */
  synced: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Watches the pods matching `fieldSelector` (e.g. `spec.nodeName=node1`)
 * in every namespace, with the library's ListWatch (list, then watch from
 * the list's resourceVersion, re-list on expiry, reconnect with backoff).
 * An error stops a ListWatch; it is started again a second later, as
 * client-go's reflector does.
 */
export function watchPods(kube: Kube, fieldSelector: string, events: PodEvents): PodWatch {
  const w = startInformer<V1Pod>(kube, "/api/v1/pods", {
    add: (p) => events.upsert(fromV1Pod(p)),
    update: (p) => events.upsert(fromV1Pod(p)),
    delete: (p) => events.remove(fromV1Pod(p)),
    error: events.error,
  }, { fieldSelector });
  return { list: () => w.informer.list().map(fromV1Pod), synced: w.synced, stop: w.stop };
}

/** A running ListWatch informer (startInformer). */
export interface Informer<T extends KubernetesObject> {
  informer: ListWatch<T>;
  /** Resolves once the first list has been delivered (every object in it reported through add). */
  synced: Promise<void>;
  stop(): Promise<void>;
}

/** What startInformer watches besides its path. */
export interface InformerOptions<T> {
  /** e.g. `spec.nodeName=node1`; default: every object. */
  fieldSelector?: string;
  /**
   * Replaces every listed and watched object before the informer caches it,
   * so the cache holds what the caller reads, not whole objects (a Node's
   * images and managedFields); it must keep metadata's name, namespace and
   * resourceVersion, by which the informer keys and compares objects.
   * Default: objects as they are.
   */
  slim?: (o: T) => T;
  /** Called after every list has been delivered (every object in it reported). */
  listed?: () => void;
}

/**
 * Starts the library's ListWatch on `path` (list, then watch from the
 * list's resourceVersion, re-list on expiry and 410 Gone). The list is
 * list.ts's (raw pages, each slimmed as it arrives), not the library's
 * typed one. An error stops a ListWatch; it is started again a second
 * later, as client-go's reflector does, until stop().
 */
export function startInformer<T extends KubernetesObject>(
  kube: Kube,
  path: string,
  on: { add(o: T): void; update(o: T): void; delete(o: T): void; error(err: unknown): void },
  o: InformerOptions<T> = {},
): Informer<T> {
  let listed!: () => void;
  const synced = new Promise<void>((resolve) => (listed = resolve));
  const listing = async (): Promise<KubernetesListObject<T>> => {
    const r = await listAll(kube.config, path, o.slim ?? ((x: T) => x), o.fieldSelector === undefined ? {} : { fieldSelector: o.fieldSelector });
    // ListWatch reports the items as soon as this resolves, before any timer runs.
    setImmediate(listed);
    if (o.listed) setImmediate(o.listed);
    return { metadata: { resourceVersion: r.resourceVersion }, items: r.items };
  };
  let stopped = false;
  const watch = o.slim === undefined ? new LeanWatch(kube.config) : new SlimWatch(kube.config, o.slim);
  const informer = new ListWatch<T>(path, watch, listing, false, undefined, o.fieldSelector);
  informer.on("add", on.add);
  informer.on("update", on.update);
  informer.on("delete", on.delete);
  informer.on("error", (err) => {
    on.error(err);
    if (!stopped) setTimeout(() => void (stopped ? undefined : informer.start().catch(on.error)), 1000).unref();
  });
  void informer.start().catch(on.error);
  return {
    informer,
    synced,
    stop: () => {
      stopped = true;
      return informer.stop();
    },
  };
}

/** The watch (watch.ts), handing on slim(object) for each added, modified or deleted object (errors and bookmarks as they are). */
export class SlimWatch<T> extends LeanWatch {
  readonly #slim: (o: T) => T;

  constructor(config: KubeConfig, slim: (o: T) => T) {
    super(config);
    this.#slim = slim;
  }

  override watch(...[path, params, callback, done]: Parameters<Watch["watch"]>): Promise<AbortController> {
    return super.watch(path, params, (phase, obj, raw) => callback(phase, phase === "ADDED" || phase === "MODIFIED" || phase === "DELETED" ? this.#slim(obj) : obj, raw), done);
  }
}

/** Merge-patches a pod's status subresource (request.ts: a kubelet does it for every pod). */
export async function patchPodStatus(kube: Kube, namespace: string, name: string, status: Record<string, unknown>): Promise<void> {
  await kubeRequest(kube.config, "PATCH", `/api/v1/namespaces/${seg(namespace)}/pods/${seg(name)}/status`, { status }, MERGE_PATCH_BODY);
}

/**
 * Removes a pod object for good once its containers are gone: delete with
 * grace period 0 and the pod's uid as precondition, as kubelet's status
 * manager does. A pod already gone is fine.
 */
export async function finalizePodDeletion(kube: Kube, namespace: string, name: string, uid: string): Promise<void> {
  try {
    await kubeRequest(kube.config, "DELETE", `/api/v1/namespaces/${seg(namespace)}/pods/${seg(name)}?gracePeriodSeconds=0`, { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0, preconditions: { uid } });
  } catch (err) {
    if (apiStatus(err) !== 404 && apiStatus(err) !== 409) throw err;
  }
}

/** One Event about a pod, as kubelet's recorder writes it (core/v1 Event). */
export interface PodEventRecord {
  namespace: string;
  podName: string;
  podUid: string;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  /** The reporting component, e.g. "kubelet". */
  component: string;
  host: string;
}

/**
 * Records an Event about a pod; returns its name. With `repeat` (the name
 * and count of the same event recorded before) the existing Event's count
 * and lastTimestamp are bumped instead, as kubelet's recorder aggregates.
 */
export async function recordPodEvent(kube: Kube, e: PodEventRecord, repeat?: { name: string; count: number }): Promise<string> {
  const now = new Date();
  if (repeat) {
    try {
      await kubeRequest(kube.config, "PATCH", `/api/v1/namespaces/${seg(e.namespace)}/events/${seg(repeat.name)}`, { count: repeat.count, lastTimestamp: now.toISOString() }, MERGE_PATCH_BODY);
      return repeat.name;
    } catch (err) {
      if (apiStatus(err) !== 404) throw err;
    }
  }
  const created = await kubeRequest<{ metadata?: { name?: string } }>(kube.config, "POST", `/api/v1/namespaces/${seg(e.namespace)}/events`, {
    apiVersion: "v1",
    kind: "Event",
    metadata: { generateName: `${e.podName}.`, namespace: e.namespace },
    involvedObject: { kind: "Pod", apiVersion: "v1", namespace: e.namespace, name: e.podName, uid: e.podUid },
    reason: e.reason,
    message: e.message,
    type: e.type,
    source: { component: e.component, host: e.host },
    reportingComponent: e.component,
    reportingInstance: e.host,
    firstTimestamp: now.toISOString(),
    lastTimestamp: now.toISOString(),
    count: 1,
  });
  return created?.metadata?.name ?? "";
}

/** Reads a Node, or null when it does not exist. */
export async function readNode(kube: Kube, name: string): Promise<V1Node | null> {
  try {
    return await kube.core.readNode({ name });
  } catch (err) {
    if (apiStatus(err) === 404) return null;
    throw err;
  }
}

/** Creates a Node object with labels (and a podCIDR when given); an existing one is left as it is. */
export async function ensureNode(kube: Kube, name: string, labels: Record<string, string>, podCidr: string | null): Promise<void> {
  try {
    await kube.core.createNode({ body: { metadata: { name, labels }, spec: podCidr ? { podCIDR: podCidr, podCIDRs: [podCidr] } : {} } });
  } catch (err) {
    if (apiStatus(err) !== 409) throw err;
  }
}

/** Merge-patches a Node's status (raw JSON, so fields newer than the client's models pass through). */
export async function patchNodeStatus(kube: Kube, name: string, status: Record<string, unknown>): Promise<void> {
  await kube.core.patchNodeStatus({ name, body: { status } }, MERGE_PATCH);
}

/** The node-lease namespace every kubelet heartbeats in. */
export const NODE_LEASE_NAMESPACE = "kube-node-lease";

/**
 * Renews (or creates) the node's Lease in kube-node-lease, owned by its
 * Node as kubelet makes it, so the node lifecycle controller sees the node
 * alive.
 */
export async function renewNodeLease(kube: Kube, node: string, nodeUid: string | undefined, durationSeconds: number): Promise<void> {
  // A Lease's times are MicroTime: six fractional digits, which V1MicroTime writes.
  const now = new V1MicroTime();
  let lease: V1Lease | null = null;
  try {
    lease = await kube.coordination.readNamespacedLease({ name: node, namespace: NODE_LEASE_NAMESPACE });
  } catch (err) {
    if (apiStatus(err) !== 404) throw err;
  }
  if (lease === null) {
    await kube.coordination.createNamespacedLease({
      namespace: NODE_LEASE_NAMESPACE,
      body: {
        metadata: {
          name: node,
          namespace: NODE_LEASE_NAMESPACE,
          ownerReferences: nodeUid ? [{ apiVersion: "v1", kind: "Node", name: node, uid: nodeUid }] : undefined,
        },
        spec: { holderIdentity: node, leaseDurationSeconds: durationSeconds, renewTime: now },
      },
    });
    return;
  }
  lease.spec = { ...lease.spec, holderIdentity: node, leaseDurationSeconds: durationSeconds, renewTime: now };
  await kube.coordination.replaceNamespacedLease({ name: node, namespace: NODE_LEASE_NAMESPACE, body: lease });
}

/** A ConfigMap's or Secret's data as bytes per key. */
export async function readConfigMapData(kube: Kube, namespace: string, name: string): Promise<Map<string, Buffer>> {
  const cm = await kubeRequest<{ data?: Record<string, string>; binaryData?: Record<string, string> }>(kube.config, "GET", `/api/v1/namespaces/${seg(namespace)}/configmaps/${seg(name)}`);
  const data = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(cm.data ?? {})) data.set(k, Buffer.from(v, "utf8"));
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) data.set(k, Buffer.from(v, "base64"));
  return data;
}

/** A Secret's data as bytes per key. */
export async function readSecretData(kube: Kube, namespace: string, name: string): Promise<Map<string, Buffer>> {
  const secret = await kubeRequest<{ data?: Record<string, string>; stringData?: Record<string, string> }>(kube.config, "GET", `/api/v1/namespaces/${seg(namespace)}/secrets/${seg(name)}`);
  const data = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(secret.data ?? {})) data.set(k, Buffer.from(v, "base64"));
  for (const [k, v] of Object.entries(secret.stringData ?? {})) data.set(k, Buffer.from(v, "utf8"));
  return data;
}

/**
 * A bound service-account token for a pod (TokenRequest), as kubelet
 * requests for the projected kube-api-access volume.
 */
export async function requestPodToken(
  kube: Kube,
  pod: { namespace: string; name: string; uid: string; serviceAccount: string },
  expirationSeconds: number,
  audiences: string[],
): Promise<{ token: string; expires: Date }> {
  const r = await kubeRequest<{ status?: { token?: string; expirationTimestamp?: string } }>(kube.config, "POST", `/api/v1/namespaces/${seg(pod.namespace)}/serviceaccounts/${seg(pod.serviceAccount)}/token`, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: {
      audiences,
      expirationSeconds,
      boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.name, uid: pod.uid },
    },
  });
  return { token: r?.status?.token ?? "", expires: r?.status?.expirationTimestamp ? new Date(r.status.expirationTimestamp) : new Date(Date.now() + expirationSeconds * 1000) };
}
