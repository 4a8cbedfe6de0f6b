/**
 * Which nodes doctor examines: this node (the current network namespace
 * and the default or given paths), or every node of a lab (each node's
 * namespace and per-node paths, see lab/layout.ts).
 */
import { hostname } from "node:os";
import { join } from "node:path";
import { createRunner } from "../kernel/runner.ts";
import { DEFAULT_LAB_NAME, labLayout, logFile, nodePaths, validateLabName } from "../lab/layout.ts";
import { hostPathOf } from "../lab/node-view.ts";
import { readLabState, type LabState } from "../lab/state.ts";
import type { DoctorTarget } from "./collect.ts";
import { readKubeFactsWithKubectl, type KubeFacts } from "./kube-facts.ts";
import { kubectlArgv } from "../lab/control/kubectl.ts";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileP = promisify(execFile);
import type { Cluster } from "./facts.ts";

/** Where to look on this node; the CLI's defaults are noted per field. */
export interface LocalOptions {
  /** The agent's run dir; default /run/weft. */
  runDir: string;
  /** The CNI conf dir; default /etc/cni/net.d. */
  confDir: string;
  /** The CNI bin dir; default /opt/cni/bin. */
  binDir: string;
}

/** This node, as the agent and runtime on it see it. */
export function localTarget(o: LocalOptions): DoctorTarget {
  return {
    name: hostname(),
    nameFromAgent: true,
    runner: createRunner(),
    paths: { runDir: o.runDir, socket: join(o.runDir, "agent.sock"), subnetFile: join(o.runDir, "subnet.env"), confDir: o.confDir, binDir: o.binDir },
    agentLog: "the agent's stderr: journalctl, or kubectl logs of its pod",
    onNode: (command) => command,
  };
}

/** Every node of lab `name`, and the lab as the fixes name it. Throws LAB_NOT_UP when it is not up. */
export function labTargets(name: string): { targets: DoctorTarget[]; lab: NonNullable<Cluster["lab"]>; readCluster?: () => Promise<KubeFacts> } {
  const lab = labLayout(validateLabName(name));
  const state = readLabState(lab);
  const nameFlag = lab.name === DEFAULT_LAB_NAME ? "" : ` --name ${lab.name}`;
  const targets = state.nodes.map((n): DoctorTarget => {
    const p = nodePaths(lab, n.name);
    return {
      name: n.name,
      nameFromAgent: false,
      runner: createRunner(n.netns),
      paths: { runDir: p.runDir, socket: p.agentSocket, subnetFile: p.subnetFile, confDir: p.cniConfDir, binDir: p.cniBinDir },
      // With Kubernetes the agent is a pod of the weft DaemonSet, which sees the node's directories at the standard paths.
      agentLog: state.kubernetes
        ? `kubectl logs of the weft pod on ${n.name}: weft lab kubectl${nameFlag} -- get pods -n kube-system -l app=weft -o wide names it`
        : logFile(lab, `${n.name}-agent`),
      onNode: (command) => `weft lab exec ${n.name}${nameFlag} -- ${command}`,
      ...(state.kubernetes && { hostPath: (path: string) => hostPathOf(p, path) }),
    };
  });
  // The lab's API server is reachable only inside the lab: kubectl runs in its control plane's namespace.
  const kubectl = async (args: string[]) => {
    const [cmd, ...rest] = kubectlArgv(lab, state, args);
    const r = await execFileP(cmd!, rest, { maxBuffer: 64 << 20 });
    return r.stdout;
  };
  return {
    targets,
    lab: { name: lab.name, upCommand: upCommand(state, nameFlag) },
    ...(state.kubernetes && { readCluster: () => readKubeFactsWithKubectl(kubectl) }),
  };
}

/** The `weft lab up` that rebuilds `state`, without --iface and --pod-cidr (the fixes add the right ones). */
function upCommand(state: LabState, nameFlag: string): string {
  const flags = [`weft lab up${nameFlag}`, `--nodes ${state.nodes.length}`];
  if (state.backend !== "vxlan") flags.push(`--backend ${state.backend}`);
  if (state.store !== "embedded") flags.push(`--store ${state.store}`);
  if (state.scenario !== null) flags.push(`--scenario ${state.scenario}`);
  if (!state.kubernetes) flags.push("--no-kubernetes");
  return flags.join(" ");
}
