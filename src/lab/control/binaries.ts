/**
 * The pinned Kubernetes release's binaries, and the etcd server it pins,
 * which scripts/kubernetes.sh builds from the build module in
 * scripts/kubernetes/ into a cache outside the checkout:
 * ${WEFT_CACHE:-/var/cache/weft}/kubernetes/<version>/<module>/bin/, where
 * <module> is the first 16 hex digits of the SHA-256 of go.mod followed by
 * go.sum. So a checkout finds exactly the binaries of its own build module.
 * (Why not Debian's etcd 3.4: see scripts/kubernetes.sh.)
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { WeftError } from "../../lib/errors.ts";
import { ROOT } from "../../lib/root.ts";

/** The build module that pins the release, and its checksums. */
export const BUILD_MODULE = join(ROOT, "scripts/kubernetes/go.mod");
export const BUILD_MODULE_SUM = join(ROOT, "scripts/kubernetes/go.sum");
/** The cache root when WEFT_CACHE is not set. */
export const DEFAULT_CACHE = "/var/cache/weft";

/** The binaries the build makes. */
export type KubeBinary = "kube-apiserver" | "kube-controller-manager" | "kube-scheduler" | "kubectl" | "kube-proxy" | "agnhost" | "etcd";

/** The pinned k8s.io/kubernetes version, e.g. "v1.37.2", read from the build module. */
export function kubernetesVersion(goMod = readFileSync(BUILD_MODULE, "utf8")): string {
  const m = /^\s*(?:require\s+)?k8s\.io\/kubernetes\s+(v\d+\.\d+\.\d+)\b/m.exec(goMod);
  if (!m) throw new WeftError("KUBERNETES_PIN_MISSING", `${BUILD_MODULE} does not require k8s.io/kubernetes vX.Y.Z`, { hint: "restore scripts/kubernetes/go.mod from git" });
  return m[1]!;
}

/** The build module's key in the cache: the first 16 hex digits of the SHA-256 of go.mod followed by go.sum. */
export function buildModuleKey(goMod = readFileSync(BUILD_MODULE), goSum = readFileSync(BUILD_MODULE_SUM)): string {
  return createHash("sha256").update(goMod).update(goSum).digest("hex").slice(0, 16);
}

/** The root of what the project's scripts build or fetch outside the checkout (WEFT_CACHE, or DEFAULT_CACHE). */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.WEFT_CACHE || DEFAULT_CACHE;
}

/** The directory holding the pinned release's binaries. */
export function kubernetesBinDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), "kubernetes", kubernetesVersion(), buildModuleKey(), "bin");
}

/** The path of one pinned binary; throws KUBERNETES_NOT_BUILT when it has not been built. */
export function kubeBinary(name: KubeBinary): string {
  const path = join(kubernetesBinDir(), name);
  if (!existsSync(path)) {
    throw new WeftError("KUBERNETES_NOT_BUILT", `${name} of Kubernetes ${kubernetesVersion()} is not built (no ${path})`, {
      hint: "run scripts/setup.sh, which builds it (or sh scripts/kubernetes.sh), or use weft lab up --no-kubernetes",
    });
  }
  return path;
}
