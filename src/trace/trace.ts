/**
 * `weft trace POD-A POD-B[:PORT[/PROTO]] --lab NAME`: finds the two pods and
 * their nodes in the lab's records, reads the path's kernel state and the
 * agents' policy verdicts (read.ts) and builds the hop list (path.ts).
 */
import { WeftError } from "../lib/errors.ts";
import { loadConfList } from "../lab/cni.ts";
import { labLayout, nodePaths, validateLabName, type LabLayout } from "../lab/layout.ts";
import { findNode, readLabState, type PodRecord } from "../lab/state.ts";
import { findTracePod } from "./pods.ts";
import { buildTrace, type TraceReport } from "./path.ts";
import { readPathFacts } from "./read.ts";
import { parseTraceTarget } from "./policy.ts";

/** The weft plugin's bridge when its configuration names none. */
const DEFAULT_BRIDGE = "weft0";

/** Traces the path from pod `from` to pod `target` (`POD` or `POD:PORT[/PROTO]`) in lab `labName`. */
export async function tracePods(labName: string, from: string, target: string): Promise<TraceReport> {
  const { pod: to, port } = parseTraceTarget(target);
  const lab = labLayout(validateLabName(labName));
  const state = readLabState(lab);
  if (from === to) throw new WeftError("USAGE", `trace: ${from} to itself is no path`, { hint: "name two different pods" });
  const a = podWithIp(lab, from);
  const b = podWithIp(lab, to);
  const src = findNode(state, a.node);
  const dst = findNode(state, b.node);
  return buildTrace(await readPathFacts({ lab, state, from: a, to: b, src, dst, bridge: weftBridge(lab, src.name), port }));
}

/** The pod's record; throws when there is none or it has no IP yet. */
function podWithIp(lab: LabLayout, name: string): PodRecord & { ip: string } {
  const pod = findTracePod(lab, name);
  if (!pod) throw new WeftError("POD_NOT_FOUND", `lab ${lab.name} has no pod "${name}"`, { hint: `run weft lab pods --name ${lab.name} for its pods` });
  if (pod.ip === null) {
    throw new WeftError("POD_NO_IP", `pod ${name} has no IP: its network set-up did not finish`, { hint: `remove it (weft lab rm ${name} --name ${lab.name}) and run it again` });
  }
  return { ...pod, ip: pod.ip };
}

/** The bridge the node's weft CNI configuration names; trace follows only weft's own network. */
function weftBridge(lab: LabLayout, node: string): string {
  const list = loadConfList(nodePaths(lab, node).cniConfDir);
  const weft = list.plugins.find((p) => p.type === "weft");
  if (!weft) {
    throw new WeftError("TRACE_NOT_WEFT", `${node}'s CNI configuration ${list.file} does not use the weft plugin`, { hint: "weft trace follows pods on weft's network only" });
  }
  return typeof weft.bridge === "string" ? weft.bridge : DEFAULT_BRIDGE;
}
