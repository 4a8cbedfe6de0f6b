/**
 * The supervisor's entry for each node's lab kubelet: the bundled kubelet
 * (build/weft-kubelet.mjs, see scripts/bundle.ts) run with
 * `ip netns exec NODE`, so it lives in the node's namespace from its first
 * instruction, like the node's agent.
 */
import { join } from "node:path";
import { ROOT } from "../../lib/root.ts";
import { logFile, type LabLayout } from "../layout.ts";
import type { LabNode } from "../state.ts";
import type { ProcessSpec } from "../supervisor.ts";

/** The bundled kubelet. */
export const KUBELET_BUNDLE = join(ROOT, "build/weft-kubelet.mjs");

/** One kubelet per node, named NODE-kubelet. */
export function kubeletDaemons(lab: LabLayout, nodes: readonly LabNode[]): ProcessSpec[] {
  return nodes.map((n) => ({
    name: `${n.name}-kubelet`,
    argv: ["ip", "netns", "exec", n.netns, process.execPath, KUBELET_BUNDLE, "--name", lab.name, "--node", n.name],
    log: logFile(lab, `${n.name}-kubelet`),
  }));
}
