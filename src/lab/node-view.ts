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
 * Kernel state: two bind mounts inside the mount namespace of the shell
 * that runs the node's plugins, gone with its last process. The host's
 * mounts never change; the two mount points are plain directories, made
 * once if missing.
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
 * The argv of a long-lived shell (shell-host.ts) that runs node `p`'s
 * plugins with its directories at the standard paths: it binds them in a
 * mount namespace of its own, then reads jobs from stdin. The namespace is
 * a slave of the host's, so the pod namespaces created after it (bind
 * mounts under the shared /run/netns) appear in it; its own binds never
 * reach the host. Every node directory lies under /run/weft/lab, hidden
 * by the bind on /run/weft, so jobs name paths through the caller's root
 * (ShellHost does).
 */
export function nodeViewShellArgv(p: NodePaths): string[] {
  const binds = VIEW.map(([standard], i) => `mount --bind "$${i + 1}" ${standard}`).join(" && ");
  return ["unshare", "--mount", "--propagation", "slave", "--", "sh", "-c", `${binds} && exec sh -s`, "sh", ...VIEW.map(([, of]) => of(p))];
}
