/**
 * `weft lab kubelet --name LAB --node NODE`: a lab node's kubelet
 * (src/lab/kubelet/), run by the lab's supervisor inside the node's
 * namespace, until SIGTERM or SIGINT. Stopping it leaves the pods running;
 * the next kubelet adopts them.
 */
import { WeftError } from "../../lib/errors.ts";
import { parseCommandArgs } from "../args.ts";
import { DEFAULT_LAB_NAME, labLayout, validateLabName } from "../../lab/layout.ts";
import { kubeletConfig } from "../../lab/kubelet/config.ts";
import { runKubelet } from "../../lab/kubelet/kubelet.ts";
import { findScenario } from "../../lab/scenarios.ts";
import { findNode, readLabState } from "../../lab/state.ts";

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs("lab kubelet", argv, { name: { type: "string", default: DEFAULT_LAB_NAME }, node: { type: "string" } });
  if (!values.node) throw new WeftError("USAGE", "lab kubelet: --node NODE is required");
  const lab = labLayout(validateLabName(values.name));
  const stop = new AbortController();
  process.once("SIGTERM", () => stop.abort());
  process.once("SIGINT", () => stop.abort());
  const state = readLabState(lab);
  // While the lab runs each node's agent itself, the Node takes the agent's subnet as its podCIDR (config.ts).
  const labRunsAgents = state.daemons.some((d) => d.name === `${values.node}-agent`);
  const node = findNode(state, values.node);
  // A scenario may run the kubelets without --node-ip (scenarios.ts kubeletNodeIp).
  const nodeIp = state.scenario !== null && findScenario(state.scenario).kubeletNodeIp === false ? null : node.underlayIp;
  await runKubelet(kubeletConfig(lab, node, state.podCidr, labRunsAgents, nodeIp), stop.signal);
  return 0;
}
