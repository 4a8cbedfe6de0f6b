/**
 * A pod's volumes made into directories the containers' binds point at:
 *
 *   emptyDir            POD_DIR/volumes/NAME, empty, removed with the pod
 *   hostPath            the node's own path (config.ts hostPathOnNode)
 *   configMap, secret   POD_DIR/volumes/NAME with one file per key (or item)
 *   projected           the same for each source: a service-account token
 *                       (TokenRequest bound to the pod), configMap and secret
 *                       items, downwardAPI fields; so the API server's
 *                       kube-api-access-* volume gives token, ca.crt and
 *                       namespace as in a real cluster
 *
 * The data comes through VolumeSources, which tests replace with a fake.
 * Tokens are written once at pod start (the lab's lifetime is shorter than a
 * token's hour); kubelet's refresh at 80% of the lifetime is not done.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { WeftError } from "../../lib/errors.ts";
import type { Pod, ProjectedSource, Volume } from "../../kube/pod.ts";
import { hostPathOnNode, normalizeAbsolute, type KubeletConfig } from "./config.ts";

/** Where the kubelet reads volume contents. */
export interface VolumeSources {
  /** A ConfigMap's data, or null when it does not exist. */
  configMap(namespace: string, name: string): Promise<Map<string, Buffer> | null>;
  secret(namespace: string, name: string): Promise<Map<string, Buffer> | null>;
  /** A token for the pod's service account. */
  token(pod: Pod, expirationSeconds: number, audience: string | null): Promise<string>;
}

/** A volume ready to bind: its host path, and whether it is a file. */
export interface PreparedVolume {
  path: string;
  file: boolean;
}

/** Prepares every volume of `pod` under `podDir`; a missing non-optional ConfigMap or Secret is VOLUME_SOURCE_MISSING. */
export async function prepareVolumes(
  cfg: Pick<KubeletConfig, "paths" | "hostRoot">,
  pod: Pod,
  podDir: string,
  fieldValue: (fieldPath: string) => string,
  src: VolumeSources,
): Promise<Map<string, PreparedVolume>> {
  // Each volume is its own directory, so they are made at once (a token request and a ConfigMap read overlap).
  const ready = await Promise.all(pod.volumes.map((v) => prepareOne(cfg, pod, join(podDir, "volumes", v.name), v, fieldValue, src)));
  return new Map(pod.volumes.map((v, i) => [v.name, ready[i]!]));
}

async function prepareOne(
  cfg: Pick<KubeletConfig, "paths" | "hostRoot">,
  pod: Pod,
  dir: string,
  v: Volume,
  fieldValue: (fieldPath: string) => string,
  src: VolumeSources,
): Promise<PreparedVolume> {
  switch (v.kind) {
    case "emptyDir":
      mkdirSync(dir, { recursive: true });
      return { path: dir, file: false };
    case "hostPath": {
      const path = hostPathOnNode(cfg, v.path);
      if (v.type === "File" || v.type === "FileOrCreate" || v.type === "Socket" || v.type === "CharDevice" || v.type === "BlockDevice") {
        mkdirSync(dirname(path), { recursive: true });
        if (v.type === "FileOrCreate") writeFileSync(path, "", { flag: "a" });
        return { path, file: true };
      }
      mkdirSync(path, { recursive: true });
      return { path, file: false };
    }
    case "configMap":
    case "secret": {
      const data = v.kind === "configMap" ? await src.configMap(pod.namespace, v.source) : await src.secret(pod.namespace, v.source);
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      if (data === null) {
        if (!v.optional) throw missing(pod, v.kind, v.source);
      } else {
        writeKeys(dir, data, v.items, 0o644);
      }
      return { path: dir, file: false };
    }
    case "projected":
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      await Promise.all(v.sources.map((s) => writeProjected(dir, pod, s, fieldValue, src)));
      return { path: dir, file: false };
    case "unsupported":
      throw new WeftError("VOLUME_UNSUPPORTED", `pod ${pod.namespace}/${pod.name}: volume "${v.name}" is of type ${v.type}, which the lab kubelet does not provide`, {
        hint: "use emptyDir, hostPath, configMap, secret or projected",
      });
  }
}

async function writeProjected(dir: string, pod: Pod, s: ProjectedSource, fieldValue: (fieldPath: string) => string, src: VolumeSources): Promise<void> {
  switch (s.kind) {
    case "serviceAccountToken":
      writeFile(dir, s.path, Buffer.from(await src.token(pod, s.expirationSeconds, s.audience)), 0o600);
      return;
    case "configMap":
    case "secret": {
      const data = s.kind === "configMap" ? await src.configMap(pod.namespace, s.name) : await src.secret(pod.namespace, s.name);
      if (data === null) {
        if (!s.optional) throw missing(pod, s.kind, s.name);
        return;
      }
      writeKeys(dir, data, s.items, 0o644);
      return;
    }
    case "downwardAPI":
      for (const i of s.items) writeFile(dir, i.path, Buffer.from(fieldValue(i.fieldRef)), 0o644);
  }
}

function writeKeys(dir: string, data: Map<string, Buffer>, items: { key: string; path: string }[] | null, mode: number): void {
  if (items === null) {
    for (const [k, v] of data) writeFile(dir, k, v, mode);
    return;
  }
  for (const i of items) {
    const v = data.get(i.key);
    if (v !== undefined) writeFile(dir, i.path, v, mode);
  }
}

/** Writes `rel` under `dir`; a path that would leave `dir` is refused (the API server validates this too). */
function writeFile(dir: string, rel: string, data: Buffer, mode: number): void {
  const clean = normalizeAbsolute(rel).slice(1);
  if (clean === "" || clean !== rel.replace(/^\.\//, "")) {
    throw new WeftError("VOLUME_PATH_INVALID", `volume item path "${rel}" is not a plain relative path`);
  }
  const path = join(dir, clean);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data, { mode });
  chmodSync(path, mode);
}

function missing(pod: Pod, kind: string, name: string): WeftError {
  const what = kind === "configMap" ? "configmap" : "secret";
  return new WeftError("VOLUME_SOURCE_MISSING", `${what} "${name}" not found (pod ${pod.namespace}/${pod.name})`, {
    hint: `create it (kubectl -n ${pod.namespace} create ${what} ${name} ...) or mark the volume optional`,
  });
}
