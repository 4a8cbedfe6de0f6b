/**
 * A container's environment and the downward API, as kubelet makes them:
 * the `kubernetes` service variables, the pod's hostname, then the
 * container's `envFrom` sources, then its `env` in order, each value with `$(VAR)` references to
 * earlier variables expanded (`$$` is a literal `$`); command and args are
 * expanded the same way.
 */
import { WeftError } from "../../lib/errors.ts";
import type { Container, Pod } from "../../kube/pod.ts";
import { DEFAULT_PATH } from "./images.ts";

/** The values the downward API can show for a pod. */
export interface PodFacts {
  pod: Pod;
  podIp: string | null;
  hostIp: string;
}

/** The value of a downward-API field path; an unknown path is FIELD_PATH_UNSUPPORTED. */
export function fieldValue(f: PodFacts, path: string): string {
  const label = /^metadata\.labels\['(.+)'\]$/.exec(path);
  if (label) return f.pod.labels[label[1]!] ?? "";
  switch (path) {
    case "metadata.name":
      return f.pod.name;
    case "metadata.namespace":
      return f.pod.namespace;
    case "metadata.uid":
      return f.pod.uid;
    case "spec.nodeName":
      return f.pod.nodeName ?? "";
    case "spec.serviceAccountName":
      return f.pod.serviceAccountName;
    case "status.podIP":
    case "status.podIPs":
      return f.podIp ?? "";
    case "status.hostIP":
    case "status.hostIPs":
      return f.hostIp;
  }
  throw new WeftError("FIELD_PATH_UNSUPPORTED", `pod ${f.pod.namespace}/${f.pod.name}: field path "${path}" is not supported by the lab kubelet`, {
    hint: "use metadata.name, metadata.namespace, metadata.uid, metadata.labels['KEY'], spec.nodeName, status.podIP or status.hostIP",
  });
}

/** Expands `$(NAME)` from `vars` (unknown references stay as written) and `$$` to `$`. */
export function expandVars(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (name === undefined) return "$";
    return vars.get(name) ?? whole;
  });
}

/** A ConfigMap's or Secret's data for env vars; null when the object is missing. */
export type KeyLookup = (kind: "configMap" | "secret", name: string) => Promise<ReadonlyMap<string, string> | null>;

/**
 * The container's environment. `pathPrefix` comes from its image; a
 * missing non-optional ConfigMap or Secret key is ENV_SOURCE_MISSING.
 */
export async function containerEnv(c: Container, f: PodFacts, kubernetesService: string, pathPrefix: readonly string[], lookup: KeyLookup): Promise<Map<string, string>> {
  const vars = new Map<string, string>([
    ["PATH", [...pathPrefix, DEFAULT_PATH].join(":")],
    ["HOSTNAME", f.pod.hostname ?? f.pod.name],
    ["HOME", "/root"],
    ["KUBERNETES_SERVICE_HOST", kubernetesService],
    ["KUBERNETES_SERVICE_PORT", "443"],
    ["KUBERNETES_SERVICE_PORT_HTTPS", "443"],
    ["KUBERNETES_PORT", `tcp://${kubernetesService}:443`],
    ["KUBERNETES_PORT_443_TCP", `tcp://${kubernetesService}:443`],
    ["KUBERNETES_PORT_443_TCP_PROTO", "tcp"],
    ["KUBERNETES_PORT_443_TCP_PORT", "443"],
    ["KUBERNETES_PORT_443_TCP_ADDR", kubernetesService],
  ]);
  // envFrom before env, so env wins, as kubelet orders them.
  for (const from of c.envFrom) {
    const data = await lookup(from.kind, from.name);
    if (data === null) {
      if (from.optional) continue;
      throw new WeftError("ENV_SOURCE_MISSING", `pod ${f.pod.namespace}/${f.pod.name}: ${from.kind} "${from.name}" for envFrom of container ${c.name} does not exist`, {
        hint: `create the ${from.kind} or mark the reference optional`,
      });
    }
    for (const [k, v] of data) vars.set(from.prefix + k, v);
  }
  for (const e of c.env) {
    let value: string | null;
    if ("value" in e) value = expandVars(e.value, vars);
    else if ("fieldRef" in e) value = fieldValue(f, e.fieldRef);
    else {
      const [kind, ref] = "configMapKey" in e ? (["configMap", e.configMapKey] as const) : (["secret", e.secretKey] as const);
      value = (await lookup(kind, ref.name))?.get(ref.key) ?? null;
      if (value === null) {
        if (ref.optional) continue;
        throw new WeftError("ENV_SOURCE_MISSING", `pod ${f.pod.namespace}/${f.pod.name}: ${kind} "${ref.name}" has no key "${ref.key}" for env ${e.name} of container ${c.name}`, {
          hint: `create the ${kind} key or mark the reference optional`,
        });
      }
    }
    vars.set(e.name, value);
  }
  return vars;
}
