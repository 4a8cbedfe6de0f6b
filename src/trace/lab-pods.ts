/**
 * The pods of a lab as trace needs them: name, node, namespace and IP. A
 * lab holds two kinds: pods its runtime made (`weft lab run` without
 * Kubernetes, and the smoke pods; records under pods/) and pods a lab
 * kubelet runs for the API server (records under NODE/kubelet/pods/). The
 * service trace starts at either kind and follows DNAT to an endpoint,
 * which it finds by IP among both.
 */
import { join } from "node:path";
import { WeftError } from "../lib/errors.ts";
import { readPodRecords as readKubeletRecords } from "../lab/kubelet/records.ts";
import { nodePaths, type LabLayout } from "../lab/layout.ts";
import { readPodRecord, readPodRecords, type LabState } from "../lab/state.ts";

/** A pod with an IP, as trace follows it. */
export interface TracedPod {
  /** The pod's name (without namespace). */
  name: string;
  /** The Kubernetes namespace, "default" for runtime pods made without one. */
  namespace: string;
  node: string;
  /** The pod's network namespace. */
  netns: string;
  ip: string;
}

/** Every pod of the lab that has an IP of its own (hostNetwork pods and released sandboxes are left out). */
export function labPods(lab: LabLayout, state: LabState): TracedPod[] {
  const runtime = readPodRecords(lab).flatMap((r) => (r.ip === null ? [] : [{ name: r.name, namespace: r.namespace, node: r.node, netns: r.netns, ip: r.ip }]));
  const kubelet = state.nodes.flatMap((n) =>
    readKubeletRecords(join(nodePaths(lab, n.name).dir, "kubelet", "pods"))
      .filter((r) => !r.hostNetwork && !r.sandboxReleased && r.ip !== null)
      .map((r) => ({ name: r.name, namespace: r.namespace, node: n.name, netns: r.netns, ip: r.ip! })),
  );
  return [...runtime, ...kubelet];
}

/** The pod `ref` (`POD` or `NAMESPACE/POD`) names, or POD_NOT_FOUND; a bare name must be unique across namespaces. */
export function findLabPod(lab: LabLayout, state: LabState, ref: string): TracedPod {
  const slash = ref.indexOf("/");
  const namespace = slash < 0 ? undefined : ref.slice(0, slash);
  const name = slash < 0 ? ref : ref.slice(slash + 1);
  const found = labPods(lab, state).filter((p) => p.name === name && (namespace === undefined || p.namespace === namespace));
  if (found.length === 0) {
    if (readPodRecord(lab, name)?.ip === null) {
      throw new WeftError("POD_NO_IP", `pod ${name} has no IP: its network set-up did not finish`, { hint: `remove it (weft lab rm ${name} --name ${lab.name}) and run it again` });
    }
    throw new WeftError("POD_NOT_FOUND", `lab ${lab.name} has no pod "${ref}"`, { hint: `run weft lab pods --name ${lab.name} for its pods` });
  }
  if (found.length > 1) {
    throw new WeftError("POD_AMBIGUOUS", `lab ${lab.name} has pods "${name}" in namespaces ${found.map((p) => p.namespace).join(", ")}`, { hint: `name one as NAMESPACE/${name}` });
  }
  return found[0]!;
}

/** The pod holding `ip`, or undefined (an endpoint outside the lab's pods, e.g. a node address). */
export function labPodByIp(lab: LabLayout, state: LabState, ip: string): TracedPod | undefined {
  return labPods(lab, state).find((p) => p.ip === ip);
}
