/**
 * A lab node's own view of the well-known directories. Lab nodes share one
 * filesystem, but what a DaemonSet installs on a node names the node's
 * standard paths: install-cni writes a conflist whose plugin reads
 * /run/weft/subnet.env and keeps its IPAM store in /var/lib/weft/ipam, as on
 * a real node. A lab kubelet therefore runs each CNI plugin in a mount
 * namespace of its own where the node's directories are bound at those
 * paths, as its containers get them through hostPath volumes
 * (kubelet/config.ts hostPathOnNode).
 *
 * Kernel state: two bind mounts inside the plugin's private mount
 * namespace, gone with the plugin's process. The host's mounts never change;
 * the two mount points are plain directories, made once if missing.
 */
import { mkdirSync } from "node:fs";
import type { NodePaths } from "./layout.ts";

/**
 * The node directories a plugin sees at the standard paths, bound in this
 * order: every node directory lies under /run/weft/lab, which the bind on
 * /run/weft hides, so that one comes last.
 */
const VIEW: [standard: string, ofNode: (p: NodePaths) => string][] = [
  ["/var/lib/weft", (p) => p.stateDir],
  ["/run/weft", (p) => p.runDir],
];

/**
 * Where a path that node `p`'s plugins and DaemonSet pods name (e.g. the
 * conflist's /run/weft/subnet.env) lies on the shared filesystem; a path
 * outside the standard directories is itself.
 */
export function hostPathOf(p: NodePaths, path: string): string {
  for (const [standard, ofNode] of VIEW) {
    if (path === standard || path.startsWith(`${standard}/`)) return ofNode(p) + path.slice(standard.length);
  }
  return path;
}

/** Makes the mount points (the standard directories themselves) when missing. */
export function ensureNodeViewMountPoints(): void {
  for (const [standard] of VIEW) mkdirSync(standard, { recursive: true });
}

/**
 * The argv that runs executable `path` with `args` and node `p`'s
 * directories at the standard paths. The executable is opened before the
 * binds (it lies in the node's bin dir, under /run/weft/lab) and run
 * through its descriptor.
 */
export function inNodeView(p: NodePaths, path: string, args: readonly string[] = []): string[] {
  const binds = VIEW.map(([standard], i) => `mount --bind "$${i + 2}" ${standard}`).join(" && ");
  const script = `exec 3<"$1" && ${binds} && shift ${VIEW.length + 1} && exec /proc/self/fd/3 "$@"`;
  return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", path, ...VIEW.map(([, of]) => of(p)), ...args];
}
