/**
 * The supervisor's entry for each node's lab kubelet: the bundled kubelet
 * (build/weft-kubelet.mjs, see scripts/bundle.ts) in the node's network
 * namespace from its first instruction, like the node's agent.
 *
 * It enters the namespace with `nsenter --net`, not `ip netns exec`: the
 * latter also gives the process a mount namespace of its own, slave to the
 * host's, and the pod namespaces the kubelet names with `ip netns add`
 * (bind mounts under /run/netns) would then exist only inside it: invisible
 * to `lab down`, `weft trace` and the next kubelet after a restart.
 */
import { join } from "node:path";
import { ROOT } from "../../lib/root.ts";
import { logFile, type LabLayout } from "../layout.ts";
import type { LabNode } from "../state.ts";
import type { ProcessSpec } from "../supervisor.ts";

/** The bundled kubelet. */
export const KUBELET_BUNDLE = join(ROOT, "build/weft-kubelet.mjs");
/** The built-in server of lab containers (port-server.ts, compiled by scripts/build.ts). */
export const PORT_SERVER_BINARY = join(ROOT, "build/weft-port-server");

/** One kubelet per node, named NODE-kubelet. */
export function kubeletDaemons(lab: LabLayout, nodes: readonly LabNode[]): ProcessSpec[] {
  return nodes.map((n) => ({
    name: `${n.name}-kubelet`,
    argv: ["nsenter", `--net=/run/netns/${n.netns}`, "--", process.execPath, KUBELET_BUNDLE, "--name", lab.name, "--node", n.name],
    log: logFile(lab, `${n.name}-kubelet`),
  }));
}
