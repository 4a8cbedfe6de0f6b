/**
 * A Pod as weft's code sees it: the fields a node runtime acts on, converted
 * once at the client boundary (kube/client.ts) from the library's V1Pod.
 * Fields weft does not act on are not here. Defaults are the API server's
 * (restartPolicy Always, dnsPolicy ClusterFirst, grace 30 s).
 */
import type { V1Container, V1Pod, V1Probe, V1Volume } from "@kubernetes/client-node";

export type RestartPolicy = "Always" | "OnFailure" | "Never";
export type DnsPolicy = "ClusterFirst" | "ClusterFirstWithHostNet" | "Default" | "None";

/** A probe's action and timing (seconds, as in the API). */
export interface Probe {
  action:
    | { kind: "exec"; command: string[] }
    | { kind: "tcpSocket"; host: string | null; port: number | string }
    | { kind: "httpGet"; host: string | null; port: number | string; path: string; scheme: "HTTP" | "HTTPS"; headers: [string, string][] };
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold: number;
  failureThreshold: number;
}

/** An environment variable: a value, or a reference resolved when the container starts. */
export type EnvVar =
  | { name: string; value: string }
  | { name: string; fieldRef: string }
  | { name: string; configMapKey: { name: string; key: string; optional: boolean } }
  | { name: string; secretKey: { name: string; key: string; optional: boolean } };

export interface ContainerPort {
  name: string | null;
  containerPort: number;
  /** The node port mapped to it (the portMappings capability), or null. */
  hostPort: number | null;
  protocol: "TCP" | "UDP" | "SCTP";
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly: boolean;
  subPath: string | null;
}

/** `envFrom`: every key of a ConfigMap or Secret as a variable, with an optional prefix. */
export interface EnvFrom {
  kind: "configMap" | "secret";
  name: string;
  prefix: string;
  optional: boolean;
}

export interface Container {
  name: string;
  image: string;
  /** The entrypoint override (`command`), or null for the image's. */
  command: string[] | null;
  /** `args`, or null for the image's. */
  args: string[] | null;
  workingDir: string | null;
  env: EnvVar[];
  envFrom: EnvFrom[];
  ports: ContainerPort[];
  volumeMounts: VolumeMount[];
  readinessProbe: Probe | null;
  livenessProbe: Probe | null;
  /** `stdin`: the container keeps a stdin that `kubectl attach -i` writes to. Default false. */
  stdin?: boolean;
}

/** A projected source, as the API server's ServiceAccount admission writes kube-api-access-*. */
export type ProjectedSource =
  | { kind: "serviceAccountToken"; path: string; expirationSeconds: number; audience: string | null }
  | { kind: "configMap"; name: string; items: { key: string; path: string }[] | null; optional: boolean }
  | { kind: "secret"; name: string; items: { key: string; path: string }[] | null; optional: boolean }
  | { kind: "downwardAPI"; items: { path: string; fieldRef: string }[] };

export type Volume =
  | { name: string; kind: "hostPath"; path: string; type: string }
  | { name: string; kind: "emptyDir" }
  | { name: string; kind: "configMap"; source: string; items: { key: string; path: string }[] | null; optional: boolean }
  | { name: string; kind: "secret"; source: string; items: { key: string; path: string }[] | null; optional: boolean }
  | { name: string; kind: "projected"; sources: ProjectedSource[] }
  | { name: string; kind: "unsupported"; type: string };

export interface Pod {
  uid: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  nodeName: string | null;
  /** Set once deletion was asked for; the kubelet then stops the pod and removes the object. */
  deletionTimestamp: Date | null;
  deletionGracePeriodSeconds: number | null;
  terminationGracePeriodSeconds: number;
  restartPolicy: RestartPolicy;
  dnsPolicy: DnsPolicy;
  hostNetwork: boolean;
  hostname: string | null;
  subdomain: string | null;
  serviceAccountName: string;
  initContainers: Container[];
  containers: Container[];
  volumes: Volume[];
  /** The phase the API holds; a finished pod (Succeeded/Failed) is not started again. */
  phase: string | null;
  /** The QoS class the API server gave the pod from its containers' requests and limits (Guaranteed, Burstable, BestEffort). */
  qosClass: string | null;
}

/** Converts the library's V1Pod into a Pod. */
export function fromV1Pod(p: V1Pod): Pod {
  const spec = p.spec;
  return {
    uid: p.metadata?.uid ?? "",
    namespace: p.metadata?.namespace ?? "default",
    name: p.metadata?.name ?? "",
    labels: p.metadata?.labels ?? {},
    nodeName: spec?.nodeName ?? null,
    deletionTimestamp: p.metadata?.deletionTimestamp ? new Date(p.metadata.deletionTimestamp) : null,
    deletionGracePeriodSeconds: p.metadata?.deletionGracePeriodSeconds ?? null,
    terminationGracePeriodSeconds: spec?.terminationGracePeriodSeconds ?? 30,
    restartPolicy: (spec?.restartPolicy as RestartPolicy | undefined) ?? "Always",
    dnsPolicy: (spec?.dnsPolicy as DnsPolicy | undefined) ?? "ClusterFirst",
    hostNetwork: spec?.hostNetwork ?? false,
    hostname: spec?.hostname ?? null,
    subdomain: spec?.subdomain ?? null,
    serviceAccountName: spec?.serviceAccountName ?? "default",
    initContainers: (spec?.initContainers ?? []).map(fromV1Container),
    containers: (spec?.containers ?? []).map(fromV1Container),
    volumes: (spec?.volumes ?? []).map(fromV1Volume),
    phase: p.status?.phase ?? null,
    qosClass: p.status?.qosClass ?? null,
  };
}

function fromV1Container(c: V1Container): Container {
  return {
    name: c.name,
    image: c.image ?? "",
    command: c.command && c.command.length > 0 ? c.command : null,
    args: c.args && c.args.length > 0 ? c.args : null,
    workingDir: c.workingDir ?? null,
    env: (c.env ?? []).flatMap((e): EnvVar[] => {
      const from = e.valueFrom;
      if (!from) return [{ name: e.name, value: e.value ?? "" }];
      if (from.fieldRef) return [{ name: e.name, fieldRef: from.fieldRef.fieldPath }];
      if (from.configMapKeyRef) return [{ name: e.name, configMapKey: { name: from.configMapKeyRef.name ?? "", key: from.configMapKeyRef.key, optional: from.configMapKeyRef.optional ?? false } }];
      if (from.secretKeyRef) return [{ name: e.name, secretKey: { name: from.secretKeyRef.name ?? "", key: from.secretKeyRef.key, optional: from.secretKeyRef.optional ?? false } }];
      return [];
    }),
    envFrom: (c.envFrom ?? []).flatMap((f): EnvFrom[] => {
      if (f.configMapRef) return [{ kind: "configMap", name: f.configMapRef.name ?? "", prefix: f.prefix ?? "", optional: f.configMapRef.optional ?? false }];
      if (f.secretRef) return [{ kind: "secret", name: f.secretRef.name ?? "", prefix: f.prefix ?? "", optional: f.secretRef.optional ?? false }];
      return [];
    }),
    ports: (c.ports ?? []).map((port) => ({ name: port.name ?? null, containerPort: port.containerPort, hostPort: port.hostPort ?? null, protocol: (port.protocol as ContainerPort["protocol"] | undefined) ?? "TCP" })),
    volumeMounts: (c.volumeMounts ?? []).map((m) => ({ name: m.name, mountPath: m.mountPath, readOnly: m.readOnly ?? false, subPath: m.subPath || null })),
    readinessProbe: c.readinessProbe ? fromV1Probe(c.readinessProbe) : null,
    livenessProbe: c.livenessProbe ? fromV1Probe(c.livenessProbe) : null,
    stdin: c.stdin === true,
  };
}

function fromV1Probe(p: V1Probe): Probe | null {
  const timing = {
    initialDelaySeconds: p.initialDelaySeconds ?? 0,
    periodSeconds: p.periodSeconds ?? 10,
    timeoutSeconds: p.timeoutSeconds ?? 1,
    successThreshold: p.successThreshold ?? 1,
    failureThreshold: p.failureThreshold ?? 3,
  };
  if (p.exec) return { action: { kind: "exec", command: p.exec.command ?? [] }, ...timing };
  if (p.tcpSocket) return { action: { kind: "tcpSocket", host: p.tcpSocket.host ?? null, port: p.tcpSocket.port as number | string }, ...timing };
  if (p.httpGet) {
    return {
      action: {
        kind: "httpGet",
        host: p.httpGet.host ?? null,
        port: p.httpGet.port as number | string,
        path: p.httpGet.path ?? "/",
        scheme: p.httpGet.scheme === "HTTPS" ? "HTTPS" : "HTTP",
        headers: (p.httpGet.httpHeaders ?? []).map((h) => [h.name, h.value] as [string, string]),
      },
      ...timing,
    };
  }
  return null;
}

function items(list: { key: string; path: string }[] | undefined): { key: string; path: string }[] | null {
  return list && list.length > 0 ? list.map((i) => ({ key: i.key, path: i.path })) : null;
}

function fromV1Volume(v: V1Volume): Volume {
  if (v.hostPath) return { name: v.name, kind: "hostPath", path: v.hostPath.path, type: v.hostPath.type ?? "" };
  if (v.emptyDir) return { name: v.name, kind: "emptyDir" };
  if (v.configMap) return { name: v.name, kind: "configMap", source: v.configMap.name ?? "", items: items(v.configMap.items), optional: v.configMap.optional ?? false };
  if (v.secret) return { name: v.name, kind: "secret", source: v.secret.secretName ?? "", items: items(v.secret.items), optional: v.secret.optional ?? false };
  if (v.projected) {
    const sources = (v.projected.sources ?? []).flatMap((s): ProjectedSource[] => {
      if (s.serviceAccountToken) {
        return [{ kind: "serviceAccountToken", path: s.serviceAccountToken.path, expirationSeconds: s.serviceAccountToken.expirationSeconds ?? 3600, audience: s.serviceAccountToken.audience ?? null }];
      }
      if (s.configMap) return [{ kind: "configMap", name: s.configMap.name ?? "", items: items(s.configMap.items), optional: s.configMap.optional ?? false }];
      if (s.secret) return [{ kind: "secret", name: s.secret.name ?? "", items: items(s.secret.items), optional: s.secret.optional ?? false }];
      if (s.downwardAPI) {
        return [{ kind: "downwardAPI", items: (s.downwardAPI.items ?? []).flatMap((i) => (i.fieldRef ? [{ path: i.path, fieldRef: i.fieldRef.fieldPath }] : [])) }];
      }
      return [];
    });
    return { name: v.name, kind: "projected", sources };
  }
  const type = Object.keys(v).find((k) => k !== "name") ?? "unknown";
  return { name: v.name, kind: "unsupported", type };
}
