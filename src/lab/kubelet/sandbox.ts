/**
 * A pod's sandbox: its network namespace NAME-pod-NS.POD and the node's CNI
 * chain run on it, exactly as the lab's runtime (lab/runtime.ts) and a
 * containerd would: the conflist from the node's conf dir, plugins from its
 * bin dir, started from the kubelet, which lives in the node's network
 * namespace (no `ip netns exec` per plugin), through its shell host with
 * the node's view of the standard directories (node-view.ts), with the
 * K8S_* CNI_ARGS containerd passes. hostNetwork pods have no sandbox of their own: they use
 * the node's namespace and no CNI call is made.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { addNetworkList, delNetworkList, loadConfList, readCache, type RuntimeConf } from "../cni.ts";
import { cniClient, podRuntimeConf } from "../runtime.ts";
import { markOfLab, ownedAmong } from "../ownership.ts";
import { shellRunner, type ShellHost } from "../shell-host.ts";
import { createPodNamespace, deleteNamespaces } from "../topology.ts";
import type { Pod } from "../../kube/pod.ts";
import type { KubeletConfig } from "./config.ts";
import type { PodRecord } from "./records.ts";

/**
 * The network namespace name of a pod: NAME-pod-NS.POD, cut to the 255
 * bytes a file name may have by using the uid when it would be longer.
 */
export function podNetnsName(lab: string, pod: Pick<Pod, "namespace" | "name" | "uid">): string {
  const full = `${lab}-pod-${pod.namespace}.${pod.name}`;
  return full.length <= 200 ? full : `${lab}-pod-${pod.uid}`;
}

/** The kubelet's shell hosts (shell-host.ts): its own, and the one in the node's directory view that runs CNI plugins. */
export interface SandboxShells {
  shell: ShellHost;
  viewShell: ShellHost;
}

/** How long an `ip -batch` for a pod's namespace may run. */
const IP_TIMEOUT_MS = 30_000;

/** A fresh record for `pod`, before its sandbox exists. */
export function newRecord(cfg: KubeletConfig, pod: Pod): PodRecord {
  return {
    uid: pod.uid,
    namespace: pod.namespace,
    name: pod.name,
    hostNetwork: pod.hostNetwork,
    netns: pod.hostNetwork ? cfg.nodeNs : podNetnsName(cfg.lab.name, pod),
    sandboxId: randomBytes(32).toString("hex"),
    network: null,
    ip: null,
    createdAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    prepared: false,
    portMappings: portMappings(pod),
    containers: [],
  };
}

/** The pod's hostPort mappings, as containerd passes them (the portMappings capability). */
export function portMappings(pod: Pick<Pod, "containers">): { hostPort: number; containerPort: number; protocol: string }[] {
  return pod.containers.flatMap((c) =>
    c.ports.flatMap((p) => (p.hostPort ? [{ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol.toLowerCase() }] : [])),
  );
}

function runtimeConf(r: PodRecord): RuntimeConf {
  return podRuntimeConf({ sandboxId: r.sandboxId, netns: r.netns, namespace: r.namespace, name: r.name, uid: r.uid, ports: r.portMappings });
}

/**
 * Makes the sandbox: namespace (its `ip` run by the kubelet's shell host),
 * then CNI ADD (plugins run by the node view's); sets `record.network` and
 * `record.ip`, and tells how long each took. A failed ADD is thrown with the plugin's message after the
 * half-made network is deleted again (CNI DEL), as kubelet does; the
 * namespace stays for the retry.
 */
export async function createSandbox(cfg: KubeletConfig, record: PodRecord, shells: SandboxShells): Promise<{ namespaceMs: number; addMs: number }> {
  if (record.hostNetwork) {
    record.network = "host";
    record.ip = cfg.node.underlayIp;
    return { namespaceMs: 0, addMs: 0 };
  }
  const t0 = Date.now();
  // The record naming the namespace is on disk already (newRecord's caller saved it), as the lab's ownership rules want.
  if (!existsSync(`/run/netns/${record.netns}`)) await createPodNamespace(record.netns, markOfLab(cfg.lab), shellRunner(shells.shell, IP_TIMEOUT_MS));
  const t1 = Date.now();
  const list = loadConfList(cfg.paths.cniConfDir);
  const client = cniClient(cfg.lab, cfg.node.name, shells.viewShell);
  try {
    const result = await addNetworkList(client, list, runtimeConf(record));
    record.network = list.name;
    record.ip = firstIp(result);
    return { namespaceMs: t1 - t0, addMs: Date.now() - t1 };
  } catch (err) {
    await delNetworkList(client, list, runtimeConf(record)).catch(() => {});
    throw err;
  }
}

/** CNI DEL (with what ADD cached) and the namespace's removal; what is already gone is fine. */
export async function removeSandbox(cfg: KubeletConfig, record: PodRecord, shells: SandboxShells): Promise<void> {
  if (record.hostNetwork) return;
  const client = cniClient(cfg.lab, cfg.node.name, shells.viewShell);
  const rt = runtimeConf(record);
  if (record.network !== null) {
    const cached = readCache(client, record.network, rt);
    let list = cached?.list;
    if (!list) {
      try {
        list = loadConfList(cfg.paths.cniConfDir);
      } catch {
        list = undefined;
      }
    }
    if (list) await delNetworkList(client, list, cached?.rt ?? rt);
  }
  // Only a namespace with the lab's mark: a name someone else took meanwhile is left alone.
  await deleteNamespaces(await ownedAmong([record.netns], markOfLab(cfg.lab)), shellRunner(shells.shell, IP_TIMEOUT_MS));
}

function firstIp(result: Record<string, unknown>): string | null {
  const ips = result.ips as { address?: string }[] | undefined;
  const address = ips?.[0]?.address ?? (result.ip4 as { ip?: string } | undefined)?.ip;
  return address ? address.split("/")[0]! : null;
}
