/**
 * The pods trace can name: `weft lab run` pods of a lab without Kubernetes
 * (the lab's own records), and in a lab with its control plane every pod a
 * lab kubelet runs (its records under NODE/kubelet/pods), named `NAME` when
 * one namespace has it or `NAMESPACE/NAME`.
 */
import { join } from "node:path";
import { readdirSync } from "node:fs";
import { WeftError } from "../lib/errors.ts";
import type { LabLayout } from "../lab/layout.ts";
import { readPodRecords } from "../lab/kubelet/records.ts";
import { readPodRecord, type PodRecord } from "../lab/state.ts";

/** The record of pod `name` (`NAME` or `NAMESPACE/NAME`), or undefined. */
export function findTracePod(lab: LabLayout, name: string): PodRecord | undefined {
  const own = name.includes("/") ? undefined : readPodRecord(lab, name);
  if (own) return own;
  let nodes: string[];
  try {
    nodes = readdirSync(lab.dir).filter((d) => /^node\d+$/.test(d));
  } catch {
    return undefined;
  }
  const found: PodRecord[] = [];
  for (const node of nodes) {
    for (const r of readPodRecords(join(lab.dir, node, "kubelet", "pods"))) {
      if (r.hostNetwork || r.sandboxReleased || (r.name !== name && `${r.namespace}/${r.name}` !== name)) continue;
      found.push({ name: r.name, namespace: r.namespace, node, labels: {}, containerId: r.sandboxId, netns: r.netns, network: r.network, ip: r.ip, pid: null, ports: [], command: [], createdAt: r.createdAt });
    }
  }
  if (found.length > 1) {
    throw new WeftError("POD_AMBIGUOUS", `lab ${lab.name} has pods named "${name}" in namespaces ${found.map((p) => p.namespace).join(", ")}`, { hint: `name one as NAMESPACE/${name}` });
  }
  return found[0];
}
