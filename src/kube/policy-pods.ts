/**
 * Pod and Namespace (core/v1) → the policy's slim Pod and Namespace
 * (policy/types.ts). A pod that has finished (phase Succeeded or Failed)
 * holds no address any more, which the kubelet may already have given to
 * another pod: to policy it is gone (undefined).
 */
import type { V1Namespace, V1Pod } from "@kubernetes/client-node";
import type { Namespace, Pod } from "../policy/types.ts";
import { defined, protocolOf } from "./services.ts";

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The policy's view of `o`, or undefined for an unnamed or finished pod. */
export function policyPodOf(o: V1Pod): Pod | undefined {
  const namespace = o.metadata?.namespace;
  const name = o.metadata?.name;
  if (!namespace || !name) return undefined;
  const phase = o.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return undefined;
  const ips = (o.status?.podIPs?.length ? o.status.podIPs.map((p) => p.ip) : o.status?.podIP ? [o.status.podIP] : []).filter((ip): ip is string => !!ip && IPV4.test(ip));
  return {
    namespace,
    name,
    labels: { ...(o.metadata?.labels ?? {}) },
    ips,
    node: o.spec?.nodeName ?? "",
    hostNetwork: o.spec?.hostNetwork === true,
    ports: (o.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => ({ name: p.name ?? null, port: p.containerPort, protocol: protocolOf(p.protocol) }))),
  };
}

/**
 * The fields of a Pod policyPodOf reads, and metadata's name, namespace and
 * resourceVersion (by which the informer keys and compares objects): what
 * the policy informer caches of each pod (client.ts SlimWatch), instead of
 * whole pods with their managedFields, volumes and container specs.
 */
export function slimV1PolicyPod(o: V1Pod): V1Pod {
  const m = o.metadata ?? {};
  const st = o.status;
  return {
    metadata: defined({ name: m.name, namespace: m.namespace, resourceVersion: m.resourceVersion, labels: m.labels }),
    spec: defined({
      nodeName: o.spec?.nodeName,
      hostNetwork: o.spec?.hostNetwork,
      containers: (o.spec?.containers ?? []).filter((c) => c.ports?.length).map((c) => ({ name: c.name, ports: c.ports!.map((p) => defined({ name: p.name, containerPort: p.containerPort, protocol: p.protocol })) })),
    }),
    ...(st === undefined ? {} : { status: defined({ phase: st.phase, podIP: st.podIP, podIPs: st.podIPs?.map((p) => ({ ip: p.ip })) }) }),
  };
}

/** The policy's view of a Namespace (its labels include kubernetes.io/metadata.name, which the API server sets). */
export function policyNamespaceOf(o: V1Namespace): Namespace | undefined {
  const name = o.metadata?.name;
  if (!name) return undefined;
  return { name, labels: { ...(o.metadata?.labels ?? {}) } };
}
