/**
 * `weft trace POD SERVICE[:PORT] --lab NAME`: the service step (steps.ts)
 * from the pod's node, then, when the packet is translated to a pod, the
 * pod-to-pod path to that endpoint as `weft trace POD-A POD-B` builds it.
 */
import { createRunner } from "../../kernel/runner.ts";
import { tryParseIp } from "../../lib/ipv4.ts";
import { WeftError } from "../../lib/errors.ts";
import { kubectlArgv } from "../../lab/control/kubectl.ts";
import { labLayout, nodePaths, validateLabName } from "../../lab/layout.ts";
import { findNode, readLabState } from "../../lab/state.ts";
import type { Hop } from "../hop.ts";
import { findLabPod, labPodByIp, labPods } from "../lab-pods.ts";
import { buildTrace, type TraceEnd, type TraceReport } from "../path.ts";
import { readPathFacts } from "../read.ts";
import { weftBridge } from "../trace.ts";
import type { TraceProtocol } from "./facts.ts";
import { readServiceFacts } from "./read.ts";
import { namesService, type ServiceRef } from "./ref.ts";
import { serviceSteps, type ServiceVerdict } from "./steps.ts";

/** What `weft trace POD SERVICE` reports. */
export interface ServiceTraceReport {
  lab: string;
  from: TraceEnd;
  service: { namespace: string; name: string; clusterIP: string; port: string | null };
  /** What was sent: `10.96.0.40:80/TCP`, or `10.96.0.40 (ICMP echo)`. */
  target: string;
  verdict: ServiceVerdict;
  /** Where DNAT sends the packet, and how trace knows (conntrack: the kernel's choice for the probe). */
  endpoint: { ip: string; port: number | null; pod: string | null; node: string | null; chosenBy: "conntrack" | "only" | "first" } | null;
  /** The service steps. */
  hops: Hop[];
  /** The pod-to-pod path to the endpoint; null when there is none to follow. */
  path: TraceReport | null;
  /** Why there is no path, when the verdict is dnat and there is none. */
  pathNote: string | null;
  /** One line: what the client sees. */
  summary: string;
  /** True when the packet reaches an endpoint pod: every service step and every path hop is ok. */
  complete: boolean;
  /** The 1-based number of the first service step that is not ok, or null. */
  brokenAt: number | null;
}

/** Traces from pod `from` (`[NS/]POD`) to the Service `ref` names, in lab `labName`. */
export async function traceService(labName: string, from: string, ref: ServiceRef, protocol: TraceProtocol | undefined): Promise<ServiceTraceReport> {
  const lab = labLayout(validateLabName(labName));
  const state = readLabState(lab);
  if (!state.kubernetes) {
    throw new WeftError("LAB_NO_KUBERNETES", `lab ${lab.name} runs no Kubernetes (--no-kubernetes): it has no Services to trace`, { hint: `trace pod to pod (weft trace POD-A POD-B), or make a lab with Kubernetes: weft lab up --name ${lab.name}` });
  }
  const pod = findLabPod(lab, state, from);
  const node = findNode(state, pod.node);
  const facts = await readServiceFacts({
    lab: lab.name,
    from: pod,
    node: { name: node.name, netns: node.netns, subnetFile: nodePaths(lab, node.name).subnetFile },
    podCidr: state.podCidr,
    ref,
    protocol,
    kubectl: (args) => createRunner().exec(kubectlArgv(lab, state, args)),
  });
  const steps = serviceSteps(facts);
  let path: TraceReport | null = null;
  let pathNote: string | null = null;
  let endpoint: ServiceTraceReport["endpoint"] = null;
  if (steps.endpoint !== null) {
    const to = labPodByIp(lab, state, steps.endpoint.ip);
    endpoint = { ...steps.endpoint, pod: to ? `${to.namespace}/${to.name}` : null, node: to?.node ?? null };
    if (to === undefined) pathNote = `${steps.endpoint.ip} is no pod of the lab (a node address, or a pod that is gone): no pod-to-pod path to follow`;
    else if (to.ip === pod.ip) pathNote = `the endpoint is pod ${from} itself (hairpin): the packet leaves it and comes back over its own veth`;
    else {
      const dst = findNode(state, to.node);
      // Policy sees the packet after DNAT: the endpoint's port, the traced protocol.
      const port = steps.endpoint.port === null || facts.protocol === "icmp" ? null : { protocol: facts.protocol.toUpperCase() as "TCP" | "UDP" | "SCTP", port: steps.endpoint.port };
      path = buildTrace(await readPathFacts({ lab, state, from: pod, to, src: node, dst, bridge: weftBridge(lab, node.name), port }));
    }
  }
  const first = steps.hops.findIndex((h) => h.status !== "ok");
  const p = facts.port;
  return {
    lab: lab.name,
    from: { pod: from, ip: pod.ip, node: node.name },
    service: { namespace: facts.service.namespace, name: facts.service.name, clusterIP: facts.clusterIP, port: p === null ? null : `${p.name ? `${p.name} ` : ""}${p.port}/${p.protocol}` },
    target: facts.dport === null ? `${facts.clusterIP} (ICMP echo)` : `${facts.clusterIP}:${facts.dport}/${facts.protocol.toUpperCase()}`,
    verdict: steps.verdict,
    endpoint,
    hops: steps.hops,
    path,
    pathNote,
    summary: steps.summary,
    complete: first < 0 && steps.verdict === "dnat" && (path === null || path.complete),
    brokenAt: first < 0 ? null : first + 1,
  };
}

/**
 * True when trace's second argument names a Service rather than a pod:
 * --protocol was given, it is an address, or its part before any :PORT
 * (ref.ts namesService) names none of the lab's pods, by NAME or
 * NAMESPACE/NAME, while it has a port or a namespace or the lab runs
 * Kubernetes. So `web:80` is pod web's port 80 when a pod web exists
 * (the policy verdict for that port), else Service web's port 80.
 */
export function tracesService(labName: string, target: string, protocolGiven: boolean): boolean {
  if (protocolGiven) return true;
  const colon = target.lastIndexOf(":");
  const base = colon < 0 ? target : target.slice(0, colon);
  if (tryParseIp(base) !== undefined) return true;
  const lab = labLayout(validateLabName(labName));
  const state = readLabState(lab);
  if (labPods(lab, state).some((p) => p.name === base || `${p.namespace}/${p.name}` === base)) return false;
  return namesService(target) || state.kubernetes;
}

/** `--protocol`'s value, checked. */
export function parseTraceProtocol(text: string): TraceProtocol {
  if (TRACE_PROTOCOLS.includes(text as TraceProtocol)) return text as TraceProtocol;
  throw new WeftError("USAGE", `trace: invalid --protocol "${text}"`, { hint: `use one of ${TRACE_PROTOCOLS.join(", ")}` });
}

const TRACE_PROTOCOLS: readonly TraceProtocol[] = ["tcp", "udp", "sctp", "icmp"];
