/**
 * The lab's container runtime: pods are network namespaces (NAME-pod-POD)
 * whose network is set up by the node's CNI configuration, called as
 * containerd would call it (lab/cni.ts), with each plugin running inside the
 * node's namespace. A pod's command then runs in the background inside the
 * pod's namespace.
 *
 * Per pod it owns: the namespace, the record pods/POD.json, the command's
 * process group, logs/pod-POD.log and pods/POD.exit (the command's exit
 * status, written by the `sh` that waits for it, for `lab pods`). A pod's
 * processes are found by its namespace's inode and its command's process
 * group and start time, all recorded, so deleting the namespace's name
 * (`ip netns del`) does not hide them from `rm` and `down`; a namespace is
 * deleted only when it carries the lab's mark (ownership.ts).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { describeError, WeftError } from "../lib/errors.ts";
import { addNetworkList, delNetworkList, loadConfList, readCache, type CniClient, type PluginExec, type RuntimeConf } from "./cni.ts";
import type { ShellHost } from "./shell-host.ts";
import { logFile, nodeNs, nodePaths, podNs, validatePodName, type LabLayout } from "./layout.ts";
import { markOfLab, ownedAmong } from "./ownership.ts";
import { findProcesses, pidsInNamespaces, startTime, stopProcesses, type ProcessMatch } from "./procs.ts";
import { createPodRecord, findNode, readPodRecord, readPodRecords, removePodRecord, updatePodRecord, type LabState, type PodRecord, type PortMapping } from "./state.ts";
import { createPodNamespace, deleteNamespaces } from "./topology.ts";

/** Every node's second CNI_PATH entry: Debian's reference plugins (bridge, host-local, portmap, ...). */
export const REFERENCE_PLUGIN_DIR = "/usr/lib/cni";
/** The interface name the runtime asks for (CNI_IFNAME). */
export const POD_IFNAME = "eth0";
/** How long one plugin may run before it is killed. */
const PLUGIN_TIMEOUT_MS = 60_000;

/** What `weft lab run` asks for. */
export interface PodSpec {
  name: string;
  node: string;
  namespace: string;
  labels: Record<string, string>;
  ports: PortMapping[];
  command: string[];
}

/** A pod as `weft lab pods` shows it. */
export interface PodView {
  name: string;
  namespace: string;
  node: string;
  ip: string | null;
  /** ContainerCreating, Running, Completed (exit 0), Error (non-zero exit) or Unknown. */
  status: string;
  labels: Record<string, string>;
}

/** Parses `HOST:CONTAINER[/tcp|udp|sctp]`. */
export function parsePortMapping(text: string): PortMapping {
  const m = /^(\d{1,5}):(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(text);
  const hostPort = Number(m?.[1]);
  const containerPort = Number(m?.[2]);
  if (!m || hostPort < 1 || hostPort > 65535 || containerPort < 1 || containerPort > 65535) {
    throw new WeftError("PORT_INVALID", `invalid --port "${text}"`, { hint: "use HOST:CONTAINER[/tcp|udp|sctp], e.g. 8080:80" });
  }
  return { hostPort, containerPort, protocol: (m[3] ?? "tcp") as PortMapping["protocol"] };
}

/**
 * Creates a pod: its namespace, its network (CNI ADD) and its command.
 * On failure everything done so far is undone, DEL included, as kubelet
 * does after a failed sandbox set-up.
 */
export async function runPod(lab: LabLayout, state: LabState, spec: PodSpec): Promise<PodRecord> {
  validatePodName(spec.name);
  const node = findNode(state, spec.node);
  if (state.nodes.some((n) => n.name === spec.name) || spec.name === "outside") {
    throw new WeftError("POD_NAME_INVALID", `pod name "${spec.name}" is taken by a lab host`, { hint: "choose another name" });
  }
  const record: PodRecord = {
    name: spec.name,
    namespace: spec.namespace,
    node: node.name,
    labels: spec.labels,
    containerId: randomBytes(32).toString("hex"),
    netns: podNs(lab, spec.name),
    network: null,
    ip: null,
    pid: null,
    pidStart: null,
    netnsInode: null,
    ports: spec.ports,
    command: spec.command,
    createdAt: new Date().toISOString(),
  };
  const mark = markOfLab(lab);
  createPodRecord(lab, record);
  try {
    await createPodNamespace(record.netns, mark);
    record.netnsInode = statSync(`/run/netns/${record.netns}`).ino;
    const list = loadConfList(nodePaths(lab, node.name).cniConfDir);
    record.network = list.name;
    updatePodRecord(lab, record);
    const result = await addNetworkList(cniClient(lab, node.name), list, runtimeConf(record));
    record.ip = firstIp(result);
    record.pid = startCommand(lab, record);
    record.pidStart = startTime(record.pid) ?? null;
    updatePodRecord(lab, record);
    return record;
  } catch (err) {
    await removePod(lab, spec.name, { force: true }).catch(() => {});
    throw err;
  }
}

/**
 * Removes a pod: stops its command, runs CNI DEL, deletes its namespace and
 * its files. `removed` is false when there was nothing to remove. A DEL
 * failure is thrown and leaves the pod's record and namespace so `rm` can
 * be retried, unless `force`, which reports it as `warning` and goes on.
 */
export async function removePod(lab: LabLayout, name: string, { force = false } = {}): Promise<{ removed: boolean; warning?: string }> {
  const record = readPodRecord(lab, name);
  // A namespace without a record is not the lab's: the record is written before the namespace.
  if (!record) return { removed: false };
  const nsOwned = (await ownedAmong([record.netns], markOfLab(lab))).length > 0;
  await stopProcesses(podProcesses(record, nsOwned), 1000);
  let warning: string | undefined;
  try {
    await deletePodNetwork(lab, record);
  } catch (err) {
    if (!force) throw err;
    warning = `CNI DEL of pod ${name} failed (its namespace is deleted anyway): ${describeError(err)}`;
  }
  if (nsOwned) await deleteNamespaces([record.netns]);
  removePodRecord(lab, name);
  rmSync(exitFile(lab, name), { force: true });
  rmSync(logFile(lab, `pod-${name}`), { force: true });
  return warning === undefined ? { removed: true } : { removed: true, warning };
}

/**
 * A pod's live processes: everything in its namespace while the lab owns it
 * (`nsOwned`), and, by what was recorded when its command started, its
 * command's process group and whatever runs in its namespace, named or not,
 * started no earlier than the command (an earlier process cannot be the
 * pod's, whatever a reused pid or inode says).
 */
export function podProcesses(record: PodRecord, nsOwned: boolean): number[] {
  const matches: ProcessMatch[] = [];
  if (nsOwned) matches.push({ netnsInode: statSync(`/run/netns/${record.netns}`).ino });
  if (record.pid !== null && record.pidStart != null) {
    matches.push({ pgid: record.pid, netnsInode: record.netnsInode ?? undefined, notBefore: record.pidStart });
  }
  return findProcesses(matches);
}

/** CNI DEL for a pod, with the configuration and args its ADD cached (as CRI-O does), else the current ones. */
export async function deletePodNetwork(lab: LabLayout, record: PodRecord): Promise<void> {
  const client = cniClient(lab, record.node);
  const rt = runtimeConf(record);
  const cached = record.network === null ? null : readCache(client, record.network, rt);
  await delNetworkList(client, cached?.list ?? loadConfList(nodePaths(lab, record.node).cniConfDir), cached?.rt ?? rt);
}

/** Every pod with its current status. */
export function listPods(lab: LabLayout): PodView[] {
  const records = readPodRecords(lab);
  const running = pidsInNamespaces(records.map((r) => r.netns));
  return records.map((r) => ({
    name: r.name,
    namespace: r.namespace,
    node: r.node,
    ip: r.ip,
    status: podStatus(lab, r, running.get(r.netns)!.length > 0),
    labels: r.labels,
  }));
}

/** Running while any process lives in the pod's namespace; then what its command's exit status says. */
function podStatus(lab: LabLayout, r: PodRecord, running: boolean): string {
  if (r.pid === null) return "ContainerCreating";
  if (running) return "Running";
  let exit: string;
  try {
    exit = readFileSync(exitFile(lab, r.name), "utf8").trim();
  } catch {
    return "Unknown";
  }
  return exit === "0" ? "Completed" : "Error";
}

/**
 * Runs `command` in the foreground in the namespace of pod or node `target`
 * (or the outside host, "outside"), with stdio inherited; resolves with its
 * exit status (128 + signal number when killed).
 */
export async function execIn(lab: LabLayout, state: LabState, target: string, command: string[]): Promise<number> {
  const pod = readPodRecord(lab, target);
  let ns: string;
  if (pod) ns = pod.netns;
  else if (target === "outside") ns = lab.outsideNs;
  else if (state.nodes.some((n) => n.name === target)) ns = nodeNs(lab, target);
  else {
    throw new WeftError("TARGET_NOT_FOUND", `lab ${lab.name} has no pod or node called "${target}"`, {
      hint: `its nodes are ${state.nodes.map((n) => n.name).join(", ")}; run weft lab pods for its pods`,
    });
  }
  if (!existsSync(`/run/netns/${ns}`)) {
    const what = pod ? `pod ${target}` : target === "outside" ? "the outside host" : `node ${target}`;
    throw new WeftError("TARGET_GONE", `${what} of lab ${lab.name} has no namespace: ${ns} was deleted outside weft`, {
      hint: pod ? `remove the pod with weft lab rm ${target}${lab.name === "lab" ? "" : ` --name ${lab.name}`}` : `rebuild the lab: weft lab down --name ${lab.name}, then up`,
    });
  }
  const child = spawn("ip", ["netns", "exec", ns, ...command], { stdio: "inherit" });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, sig) => resolve(code ?? 128 + (sig ? (constants.signals[sig] ?? 0) : 0)));
  });
}

/**
 * The CNI client of `node`: its bin dir then the reference plugins, its
 * cache, plugins run in its namespace: entered with `ip netns exec`, or, for
 * a caller already in it (the node's lab kubelet), started as they are, as
 * a runtime starts them, by `viewShell`: the node's shell host with its
 * directories at the standard paths (node-view.ts), since a lab kubelet
 * runs the DaemonSet-installed conflist, which names them.
 */
export function cniClient(lab: LabLayout, node: string, viewShell?: ShellHost): CniClient {
  const p = nodePaths(lab, node);
  const exec = viewShell ? shellPluginExec(viewShell) : pluginExec((argv) => ["ip", "netns", "exec", nodeNs(lab, node), ...argv]);
  return { paths: [p.cniBinDir, REFERENCE_PLUGIN_DIR], cacheDir: p.cniCacheDir, exec };
}

/** Runs plugins through a shell host (shell-host.ts). */
function shellPluginExec(host: ShellHost): PluginExec {
  return async (path, env, stdin) => {
    const r = await host.run([path], env, stdin, PLUGIN_TIMEOUT_MS);
    return { code: r.code, stdout: r.stdout, stderr: r.timedOut ? `${r.stderr}killed by SIGTERM after ${PLUGIN_TIMEOUT_MS / 1000} s` : r.stderr };
  };
}

function runtimeConf(r: PodRecord): RuntimeConf {
  return podRuntimeConf({ sandboxId: r.containerId, netns: r.netns, namespace: r.namespace, name: r.name, ports: r.ports });
}

/**
 * What containerd gives the CNI chain for a pod's sandbox: its namespace's
 * path, eth0, the K8S_* CNI_ARGS (IgnoreUnknown lets plugins that parse
 * CNI_ARGS strictly, like host-local, accept them) and the hostPort
 * mappings as the portMappings capability.
 */
export function podRuntimeConf(p: { sandboxId: string; netns: string; namespace: string; name: string; uid?: string; ports: readonly unknown[] }): RuntimeConf {
  return {
    containerId: p.sandboxId,
    netns: `/run/netns/${p.netns}`,
    ifName: POD_IFNAME,
    args: [
      ["IgnoreUnknown", "1"],
      ["K8S_POD_NAMESPACE", p.namespace],
      ["K8S_POD_NAME", p.name],
      ["K8S_POD_INFRA_CONTAINER_ID", p.sandboxId],
      ...(p.uid === undefined ? [] : [["K8S_POD_UID", p.uid] as [string, string]]),
    ],
    capabilityArgs: p.ports.length > 0 ? { portMappings: p.ports } : {},
  };
}

/** Runs plugins as `wrap` says (in the node's namespace), as the runtime on that node would. */
function pluginExec(wrap: (argv: string[]) => string[]): PluginExec {
  return (path, env, stdin) =>
    new Promise((resolve, reject) => {
      const [cmd, ...args] = wrap([path]);
      const child = spawn(cmd!, args, {
        env: { ...process.env, ...env },
        stdio: ["pipe", "pipe", "pipe"],
        timeout: PLUGIN_TIMEOUT_MS,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (b: Buffer) => out.push(b));
      child.stderr.on("data", (b: Buffer) => err.push(b));
      child.once("error", reject);
      child.once("close", (code, sig) => {
        const stderr = Buffer.concat(err).toString("utf8");
        resolve({
          code: code ?? 128,
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: sig ? `${stderr}killed by ${sig}${sig === "SIGTERM" ? ` after ${PLUGIN_TIMEOUT_MS / 1000} s` : ""}` : stderr,
        });
      });
      child.stdin.on("error", () => {});
      child.stdin.end(stdin);
    });
}

/**
 * Starts the pod's command in its namespace, detached, in its own process
 * group. A `sh` waits for it and writes its exit status to pods/POD.exit
 * ("$0" is that file, "$@" the command), so `lab pods` can tell Completed
 * from Error after the command is gone.
 */
function startCommand(lab: LabLayout, r: PodRecord): number {
  const fd = openSync(logFile(lab, `pod-${r.name}`), "a");
  try {
    const child = spawn("ip", ["netns", "exec", r.netns, "sh", "-c", '"$@"; echo $? >"$0"', exitFile(lab, r.name), ...r.command], {
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    child.unref();
    return child.pid!;
  } finally {
    closeSync(fd);
  }
}

function exitFile(lab: LabLayout, pod: string): string {
  return join(lab.podsDir, `${pod}.exit`);
}

/** The first address of a CNI result (0.3.0 and later `ips`, or 0.2.0's `ip4`), without its prefix length. */
function firstIp(result: Record<string, unknown>): string | null {
  const ips = result.ips as { address?: string }[] | undefined;
  const address = ips?.[0]?.address ?? (result.ip4 as { ip?: string } | undefined)?.ip;
  return address ? address.split("/")[0]! : null;
}
