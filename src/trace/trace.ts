/**
 * `weft trace POD-A POD-B[:PORT[/PROTO]] --lab NAME`: finds the two pods and
 * their nodes in the lab's records, reads the path's kernel state and the
 * agents' policy verdicts (read.ts) and builds the hop list (path.ts).
 */
import { WeftError } from "../lib/errors.ts";
import { loadConfList } from "../lab/cni.ts";
import { labLayout, nodePaths, validateLabName, type LabLayout } from "../lab/layout.ts";
import { findNode, readLabState } from "../lab/state.ts";
import { findLabPod } from "./lab-pods.ts";
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
  const a = findLabPod(lab, state, from);
  const b = findLabPod(lab, state, to);
  const src = findNode(state, a.node);
  const dst = findNode(state, b.node);
  return buildTrace(await readPathFacts({ lab, state, from: a, to: b, src, dst, bridge: weftBridge(lab, src.name), port }));
}

/** The bridge the node's weft CNI configuration names; trace follows only weft's own network. */
export function weftBridge(lab: LabLayout, node: string): string {
  const list = loadConfList(nodePaths(lab, node).cniConfDir);
  const weft = list.plugins.find((p) => p.type === "weft");
  if (!weft) {
    throw new WeftError("TRACE_NOT_WEFT", `${node}'s CNI configuration ${list.file} does not use the weft plugin`, { hint: "weft trace follows pods on weft's network only" });
  }
  return typeof weft.bridge === "string" ? weft.bridge : DEFAULT_BRIDGE;
}
