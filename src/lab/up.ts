/**
 * `weft lab up`: builds the topology, prepares every node's directories and
 * CNI configuration, makes the cluster's credentials, starts the supervisor
 * (control plane, agents, outside server, etcd) and waits until every agent
 * has written its subnet file, the control plane answers and every node
 * (its lab kubelet) is Ready.
 *
 * A failure before the agents start removes everything built so far, and
 * so does SIGINT or SIGTERM (Ctrl-C) at any point of `up`: the lab is up or
 * gone, never half-built. A node that does not become ready leaves the lab
 * up, so its agent's log can be read; the error names the node and the log.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { createRunner } from "../kernel/runner.ts";
import { WeftError } from "../lib/errors.ts";
import { formatPrefix, parsePrefix } from "../lib/ipv4.ts";
import { readSubnetFile } from "../subnet/file.ts";
import { writeLabPki } from "./control/pki.ts";
import { controlPaths } from "./control/paths.ts";
import { waitForControlPlane } from "./control/ready.ts";
import { AGENT_BUNDLE, AGENT_CMD_ENV, labDaemons, NODE_CIDR_LEN, OUTSIDE_ECHO, readSupervisorReport, startSupervisor, supervisorPid, weftCommand } from "./daemons.ts";
import { applyDns, clusterConfigMaps, kubectl, weftManifest } from "./addons.ts";
import { ensureNodeViewMountPoints } from "./node-view.ts";
import { labDown } from "./down.ts";
import { KUBELET_BUNDLE, PORT_SERVER_BINARY } from "./kubelet/daemons.ts";
import { waitForNodesReady } from "./kubelet/nodes-ready.ts";
import { labMark, recordNamespaces, startRecords } from "./ownership.ts";
import { ensureLabRoot } from "./lab-root.ts";
import { CONTROL_IP, MAX_NODES, OUTSIDE_IP, OUTSIDE_PORT, logFile, nodeName, nodeNs, nodePaths, underlayIp, validateLabName, labLayout, type LabLayout } from "./layout.ts";
import { lastLogLine } from "./log-tail.ts";
import { listensOnTcp } from "./procs.ts";
import { sleep } from "../lib/sleep.ts";
import { findScenario } from "./scenarios.ts";
import { writeLabState, type Backend, type LabNode, type LabState, type Store } from "./state.ts";
import { buildTopology, listNamespaces } from "./topology.ts";
import { ROOT } from "../lib/root.ts";

/** What `up` builds; the CLI's defaults are noted per field. */
export interface UpOptions {
  /** Default "lab". */
  name: string;
  /** Default 3. */
  nodes: number;
  /** Default "vxlan". */
  backend: Backend;
  /** Default "embedded". */
  store: Store;
  /** Default: the scenario's, else 10.244.0.0/16. */
  podCidr: string | null;
  /** Default none. */
  scenario: string | null;
  /** The interface the agents are told to use (`--iface`); default none, the agent's own choice (the default route's interface). */
  iface: string | null;
  /** Run the Kubernetes control plane; default true (false is `--no-kubernetes`). */
  kubernetes: boolean;
  /** With Kubernetes, the add-on to apply: default "weft" (deploy/weft.yaml); "none" leaves the nodes NotReady. */
  addon?: "weft" | "none";
}

/** The cluster CIDR of a lab whose scenario does not choose one. */
export const DEFAULT_POD_CIDR = "10.244.0.0/16";
/** How long `up` waits for every agent to write its subnet file. */
export const READY_TIMEOUT_MS = 30_000;
/** An agent started this many times without becoming ready fails `up` early. */
const CRASH_LIMIT = 3;

/** One row of the table `up` prints. */
export interface NodeRow {
  name: string;
  underlayIp: string;
  subnet: string | null;
  backend: Backend;
  ready: boolean;
}

/** Builds lab `opts.name`; `say` receives progress lines. Resolves once every node is ready. */
export async function labUp(opts: UpOptions, say: (line: string) => void): Promise<NodeRow[]> {
  const started = Date.now();
  const lab = labLayout(validateLabName(opts.name));
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > MAX_NODES) {
    throw new WeftError("USAGE", `invalid --nodes ${opts.nodes}: a lab has 1 to ${MAX_NODES} nodes`);
  }
  const scenario = opts.scenario === null ? null : findScenario(opts.scenario);
  const podCidr = formatPrefix(parsePrefix(opts.podCidr ?? scenario?.podCidr ?? DEFAULT_POD_CIDR, "--pod-cidr"));
  for (const built of opts.kubernetes ? [KUBELET_BUNDLE, PORT_SERVER_BINARY] : []) {
    if (!existsSync(built)) throw new WeftError("NOT_BUILT", `the lab kubelet's ${built} is not built`, { hint: "run scripts/setup.sh (or npm run build)" });
  }
  if (!process.env[AGENT_CMD_ENV] && !existsSync(AGENT_BUNDLE)) {
    throw new WeftError("NOT_BUILT", `the agent bundle ${AGENT_BUNDLE} is not built`, { hint: "run scripts/setup.sh (or npm run build)" });
  }
  if (opts.kubernetes && parsePrefix(podCidr).len >= NODE_CIDR_LEN) {
    throw new WeftError("USAGE", `invalid --pod-cidr ${podCidr}: the controller manager gives each node a /${NODE_CIDR_LEN} of it, so it must be larger than a /${NODE_CIDR_LEN}`, {
      hint: `use e.g. --pod-cidr ${DEFAULT_POD_CIDR}`,
    });
  }

  const nodes: LabNode[] = Array.from({ length: opts.nodes }, (_, i) => {
    const name = nodeName(i + 1);
    return { name, index: i + 1, netns: nodeNs(lab, name), underlayIp: underlayIp(i + 1) };
  });
  const namespaces = [lab.switchNs, lab.outsideNs, ...(opts.kubernetes ? [lab.controlNs] : []), ...nodes.map((n) => n.netns)];
  const base = {
    name: lab.name,
    createdAt: new Date().toISOString(),
    backend: opts.backend,
    store: opts.store,
    podCidr,
    iface: opts.iface,
    scenario: opts.scenario,
    kubernetes: opts.kubernetes,
    ...(opts.kubernetes && { addon: opts.addon ?? "weft" }),
    nodes,
  };
  // Before the lab's directory is claimed: this is where a missing
  // Kubernetes build is found, and such a failure must leave nothing.
  const state: LabState = { ...base, daemons: labDaemons(lab, base) };
  const interrupt = new Interrupts();
  try {
    claimLabDir(lab, namespaces);
  } catch (err) {
    interrupt.dispose();
    throw err;
  }
  // The credentials need nothing from the topology: made meanwhile, and
  // always awaited before a failed `up` removes the lab's directory.
  if (opts.kubernetes) say("making the lab CA, certificates and kubeconfigs");
  const pki = opts.kubernetes ? writeLabPki(lab, nodes).then(() => mkdirSync(controlPaths(lab).etcdDir, { recursive: true, mode: 0o700 })) : Promise.resolve();
  pki.catch(() => {}); // handled where it is awaited; not an unhandled rejection meanwhile
  let agentsStarted = false;
  try {
    const made = startRecords(lab);
    recordNamespaces(lab, made, namespaces);
    interrupt.check();
    const control = opts.kubernetes ? `, ${lab.controlNs}` : "";
    say(`creating namespaces ${lab.switchNs}, ${lab.outsideNs}${control}, ${nodes[0]!.netns}${nodes.length > 1 ? `..${nodes.at(-1)!.netns}` : ""}${scenario ? ` (scenario ${opts.scenario})` : ""}`);
    await buildTopology(lab, nodes, scenario, labMark(lab, made), opts.kubernetes);
    interrupt.check();
    for (const n of nodes) {
      const p = nodePaths(lab, n.name);
      for (const dir of [p.runDir, p.stateDir, p.cniConfDir, p.cniBinDir, p.cniCacheDir]) mkdirSync(dir, { recursive: true });
    }
    mkdirSync(lab.logsDir, { recursive: true });
    // With Kubernetes, the DaemonSet's install-cni does this, as on a real node.
    const installing = !opts.kubernetes && existsSync(INSTALL_CNI_COMMAND);
    if (installing) say(`installing the weft CNI plugin on ${nodes.length} node${nodes.length > 1 ? "s" : ""}`);
    // The plugin, run by a lab kubelet, sees the node's directories at these paths (lab/node-view.ts).
    if (opts.kubernetes) ensureNodeViewMountPoints();
    await Promise.all([...(installing ? nodes.map((n) => installCni(lab, n)) : []), pki]);
    interrupt.check();
    writeLabState(lab, state);
    const what = opts.kubernetes
      ? `the control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) at ${CONTROL_IP}, ${nodes.length} lab kubelet${nodes.length > 1 ? "s" : ""}`
      : `${nodes.length} agent${nodes.length > 1 ? "s" : ""} (${opts.backend}, ${opts.store} store)`;
    say(`starting ${what} and the outside server at ${OUTSIDE_IP}:${OUTSIDE_PORT}`);
    startSupervisor(lab);
    agentsStarted = true;
    if (!opts.kubernetes) say(`waiting for every agent to lease a subnet of ${podCidr} (up to ${READY_TIMEOUT_MS / 1000} s)`);
    const waitBegan = Date.now();
    const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    // The first wait to fail (or Ctrl-C) stops the other, so the error comes at once.
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, interrupt.aborted]);
    const stopOthers = (err: unknown) => {
      stop.abort();
      throw err;
    };
    await Promise.all([
      waitUntilReady(lab, state, signal).catch(stopOthers),
      opts.kubernetes
        ? waitForControlPlane(lab, signal, undefined, () => applyAddon(lab, state, say)).then((t) => {
            const before = waitBegan - started;
            say(`API server ready ${secs(before + t.apiserverMs)} after up began; controller manager and scheduler healthy at ${secs(before + t.controllersMs)}`);
          }, stopOthers)
        : undefined,
    ]);
    interrupt.check();
    if (opts.kubernetes) {
      if (state.addon === "none") {
        say(`no network add-on: the nodes stay NotReady and pods Pending until one is applied (weft lab kubectl${lab.name === "lab" ? "" : ` --name ${lab.name}`} -- apply -f deploy/weft.yaml)`);
      } else {
        // Every node's lab kubelet registers its Node, which is Ready once install-cni has written the node's conflist.
        const t = await waitForNodesReady(lab, state, signal);
        interrupt.check();
        say(`${nodes.length} node${nodes.length > 1 ? "s" : ""} Ready ${secs(t.nodesAt - started)} after up began; default ServiceAccount (pods can be made) at ${secs(t.serviceAccountAt - started)}`);
        await waitForSubnetFiles(lab, state, signal);
        interrupt.check();
        say(`every agent holds its Node's podCIDR ${secs(Date.now() - started)} after up began`);
        await applyDns(lab, state);
        say("applied deploy/weft-dns.yaml: cluster DNS (weft dns, two replicas) behind kube-dns at 10.96.0.10");
      }
    }
  } catch (err) {
    await pki.catch(() => {});
    if (!agentsStarted || interrupt.signal) {
      if (interrupt.signal) say(`${interrupt.signal}: removing what this up made`);
      await labDown(lab.name, (line) => say(line), { madeHere: true });
    }
    if (interrupt.signal) throw new WeftError(LAB_UP_INTERRUPTED, `lab ${lab.name}: up interrupted by ${interrupt.signal}; everything it had made is removed`);
    throw err;
  } finally {
    interrupt.dispose();
  }
  say(`up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return nodeRows(lab, state);
}

/**
 * The cluster's ConfigMaps and, unless the lab has none, the weft add-on, in
 * one `kubectl apply` (the ConfigMaps first: the agents read
 * kubernetes-services-endpoint), as soon as the API server is ready: the
 * DaemonSet is there when the controller manager starts.
 */
async function applyAddon(lab: LabLayout, state: LabState, say: (line: string) => void): Promise<void> {
  const config = JSON.stringify({ apiVersion: "v1", kind: "List", items: clusterConfigMaps(state) });
  if (state.addon !== "none") say("applying deploy/weft.yaml: the weft DaemonSet installs the CNI plugin and runs an agent on every node");
  const text = state.addon === "none" ? config : `${config}\n---\n${weftManifest(state)}`;
  // A ready API server may not have made kube-system yet (its system-namespaces controller runs beside /readyz).
  // --validate=false: kubectl's default validation first downloads the OpenAPI v3 schema of every
  // group-version in the manifest, which an API server builds on first request; one that has just
  // started took up to 15 s to serve them on a busy machine (the apply itself takes 0.6 s), and this
  // apply is on the way to every Node's Ready. The manifest is validated by the server in
  // test/integration/lab-control-plane.test.ts's dry run, and the ConfigMaps are made here.
  const deadline = Date.now() + APPLY_RETRY_MS;
  for (;;) {
    try {
      await kubectl(lab, state, ["apply", "--validate=false", "-f", "-"], text);
      return;
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await sleep(300);
    }
  }
}

/** How long `up` retries its first apply. */
const APPLY_RETRY_MS = 15_000;

/** Error code: SIGINT or SIGTERM stopped `up`, which removed what it had made. */
export const LAB_UP_INTERRUPTED = "LAB_UP_INTERRUPTED";

/**
 * SIGINT and SIGTERM while `up` runs: noted rather than fatal, so `up`
 * stops at its next step and removes what it made before it exits.
 */
class Interrupts {
  signal: NodeJS.Signals | undefined;
  readonly #abort = new AbortController();
  /** Aborted when a signal comes, for waits that take an AbortSignal. */
  readonly aborted = this.#abort.signal;
  readonly #note = (sig: NodeJS.Signals) => {
    this.signal ??= sig;
    this.#abort.abort();
  };

  constructor() {
    process.on("SIGINT", this.#note);
    process.on("SIGTERM", this.#note);
  }

  /** Throws once a signal has come; `up`'s cleanup takes over from there. */
  check(): void {
    if (this.signal) throw new WeftError(LAB_UP_INTERRUPTED, `interrupted by ${this.signal}`);
  }

  dispose(): void {
    process.off("SIGINT", this.#note);
    process.off("SIGTERM", this.#note);
  }
}

/**
 * Makes the lab's directory, which is also what marks the lab as up, after
 * checking that none of `namespaces` (the ones `up` creates) exists: one
 * that does was made by someone else.
 */
function claimLabDir(lab: LabLayout, namespaces: readonly string[]): void {
  const alreadyUp = () =>
    new WeftError("LAB_EXISTS", `lab ${lab.name} is already up`, { hint: `run weft lab down --name ${lab.name}` });
  if (existsSync(lab.dir)) throw alreadyUp();
  const present = new Set(listNamespaces());
  const taken = namespaces.filter((ns) => present.has(ns));
  if (taken.length > 0) {
    throw new WeftError("LAB_NAMESPACE_TAKEN", `lab ${lab.name} is not up, but namespace${taken.length > 1 ? "s" : ""} ${taken.join(", ")} exist${taken.length > 1 ? "" : "s"}, made by someone else`, {
      hint: `choose another --name, or delete ${taken.length > 1 ? "them" : "it"} with ip netns del if ${taken.length > 1 ? "they are" : "it is"} yours to delete`,
    });
  }
  for (let attempt = 0; ; attempt++) {
    try {
      ensureLabRoot();
      mkdirSync(lab.dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") throw alreadyUp();
      // Another lab's `down` (or `up`, giving an empty directory way to the link) removed LAB_ROOT between our two steps.
      if (code !== "ENOENT" || attempt > 2) throw err;
    }
  }
}

/** The module whose presence means the weft CNI plugin can be installed. */
const INSTALL_CNI_COMMAND = join(ROOT, "src/cli/commands/install-cni.ts");

/**
 * Installs the weft CNI plugin and its conflist into one node's CNI dirs
 * with `weft install-cni`, as the DaemonSet's init container does on a real
 * node. Lab nodes share one filesystem, so the conflist points the plugin at
 * this node's subnet file and an IPAM store in this node's state dir.
 */
export async function installCni(lab: LabLayout, node: LabNode): Promise<void> {
  const p = nodePaths(lab, node.name);
  const argv = [
    ...weftCommand(), "install-cni",
    "--bin-dir", p.cniBinDir,
    "--conf-dir", p.cniConfDir,
    "--subnet-file", p.subnetFile,
    "--data-dir", join(p.stateDir, "ipam"),
  ];
  const r = await createRunner().exec(argv);
  if (r.code !== 0) {
    throw new WeftError("CNI_INSTALL_FAILED", `installing the CNI plugin on ${node.name} failed: ${r.stderr.trim().split("\n").join("; ") || `exit status ${r.code}`}`);
  }
}

/**
 * Polls until every node's subnet file exists and the outside server
 * listens; throws naming the first node that is not ready. Gives up
 * quietly once `signal` is aborted.
 */
async function waitUntilReady(lab: LabLayout, state: LabState, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const leave = `the lab is left up for inspection; run weft lab down --name ${lab.name}`;
  while (!signal.aborted) {
    // With Kubernetes the agents come later, from the DaemonSet (waitForSubnetFiles).
    const waiting = state.kubernetes ? [] : state.nodes.filter((n) => !existsSync(nodePaths(lab, n.name).subnetFile));
    const report = readSupervisorReport(lab);
    const echo = report?.processes.find((p) => p.name === OUTSIDE_ECHO);
    if (waiting.length === 0 && echo?.pid && listensOnTcp(echo.pid, OUTSIDE_PORT)) return;
    if (supervisorPid(lab) === null) {
      throw new WeftError("LAB_SUPERVISOR_EXITED", `the supervisor of lab ${lab.name} exited; see ${logFile(lab, "supervisor")}`, { hint: leave });
    }
    for (const n of waiting) {
      const agent = report?.processes.find((p) => p.name === `${n.name}-agent`);
      if (agent && agent.starts >= CRASH_LIMIT && agent.lastExit) {
        const how = agent.lastExit.signal ?? `status ${agent.lastExit.code}`;
        throw new WeftError("AGENT_NOT_READY", `the agent on ${n.name} keeps exiting (${agent.starts} starts, last ${how})${lastLogLine(agent.log)}; see ${agent.log}`, { hint: leave });
      }
    }
    if (Date.now() >= deadline) {
      const n = waiting[0];
      if (n === undefined) {
        const log = logFile(lab, OUTSIDE_ECHO);
        throw new WeftError("LAB_NOT_READY", `the outside server does not listen on ${OUTSIDE_IP}:${OUTSIDE_PORT} after ${READY_TIMEOUT_MS / 1000} s${lastLogLine(log)}; see ${log}`, { hint: leave });
      }
      const log = logFile(lab, `${n.name}-agent`);
      throw new WeftError("AGENT_NOT_READY", `${n.name} is not ready after ${READY_TIMEOUT_MS / 1000} s: its agent has not written ${nodePaths(lab, n.name).subnetFile}${lastLogLine(log)}; see ${log}`, { hint: leave });
    }
    await sleep(100);
  }
}

/** Each node's underlay IP, leased subnet (from its subnet file) and readiness. */
export function nodeRows(lab: LabLayout, state: LabState): NodeRow[] {
  return state.nodes.map((n) => {
    let subnet: string | null = null;
    try {
      subnet = formatPrefix(readSubnetFile(nodePaths(lab, n.name).subnetFile).subnet);
    } catch {
      // Not leased yet, or being rewritten.
    }
    return { name: n.name, underlayIp: n.underlayIp, subnet, backend: state.backend, ready: subnet !== null };
  });
}

/** How long `up` waits for the DaemonSet's agents to write their subnet files once the nodes are Ready. */
const AGENTS_TIMEOUT_MS = 60_000;

/** Waits until every node's agent (the weft DaemonSet's pod) has written its subnet file. */
async function waitForSubnetFiles(lab: LabLayout, state: LabState, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + AGENTS_TIMEOUT_MS;
  while (!signal.aborted) {
    const waiting = state.nodes.filter((n) => !existsSync(nodePaths(lab, n.name).subnetFile));
    if (waiting.length === 0) return;
    if (Date.now() >= deadline) {
      const n = waiting[0]!;
      throw new WeftError("AGENT_NOT_READY", `the weft agent on ${n.name} has not written ${nodePaths(lab, n.name).subnetFile} after ${AGENTS_TIMEOUT_MS / 1000} s`, {
        hint: `see its pod: weft lab kubectl --name ${lab.name} -- get pods -n kube-system -o wide, and -- logs -n kube-system POD; the lab is left up, run weft lab down --name ${lab.name}`,
      });
    }
    await sleep(100);
  }
}
