/**
 * What a lab runs in the background and how: one weft agent per node (as a
 * DaemonSet would), the outside host's echo-source server, etcd when the
 * lab uses `--store etcd`, whatever its scenario runs in nodes, and the
 * Kubernetes control plane (lab/control/components.ts) unless the lab is
 * `--no-kubernetes`. All of them are children of one detached
 * supervisor process per lab (`weft lab supervise --name NAME`, a hidden
 * verb), which `up` starts and `down` stops.
 *
 * Every command line starts with `ip netns exec NS`, so each daemon lives in
 * its namespace from its first instruction and the host's namespace never
 * sees it.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OUTSIDE_IP, OUTSIDE_PORT, logFile, nodePaths, type LabLayout } from "./layout.ts";
import { cmdline, isAlive, startTime, stopProcesses } from "./procs.ts";
import { findScenario } from "./scenarios.ts";
import { readLabState, writeJsonAtomic, type LabNode, type LabState } from "./state.ts";
import { Supervisor, type ProcessSpec, type ProcessStatus } from "./supervisor.ts";
import { ROOT } from "../lib/root.ts";
import { controlPlaneDaemons } from "./control/components.ts";
import { kubeletDaemons } from "./kubelet/daemons.ts";


const MAIN = join(ROOT, "src/cli/main.ts");
const ECHO_SOURCE = join(ROOT, "src/lab/echo-source.ts");
const NODE_FLAGS = ["--disable-warning=ExperimentalWarning"];
/** The shipped agent, bundled by scripts/bundle.ts (see src/cli/agent-main.ts). */
export const AGENT_BUNDLE = join(ROOT, "build/weft-agent.mjs");

/**
 * Replaces the agent's command line in tests, or to wrap the agent: a shell
 * command run with `sh -c` in the node's namespace, with the real agent argv
 * as "$@" and WEFT_NODE_NAME, WEFT_NODE_INDEX and WEFT_RUN_DIR in its
 * environment. It must write $WEFT_RUN_DIR/subnet.env for the node to be ready.
 */
export const AGENT_CMD_ENV = "WEFT_LAB_AGENT_CMD";

/** The supervised name of the outside host's echo-source server. */
export const OUTSIDE_ECHO = "outside-echo";

/** The etcd client URL the agents use with `--store etcd` (etcd runs on the outside host). */
export const ETCD_URL = `http://${OUTSIDE_IP}:2379`;

/** The weft CLI as an argv prefix: this Node.js running src/cli/main.ts. */
export function weftCommand(): string[] {
  return [process.execPath, ...NODE_FLAGS, MAIN];
}

/**
 * The agent's command line for one node: the one place that knows the
 * agent's flags. Every path is per node because lab nodes share one
 * filesystem.
 */
export function agentCommand(lab: LabLayout, state: Omit<LabState, "daemons">, node: LabNode): string[] {
  const p = nodePaths(lab, node.name);
  const argv = [
    process.execPath, AGENT_BUNDLE,
    "--node-name", node.name,
    ...(state.iface === null ? [] : ["--iface", state.iface]),
    "--backend", state.backend,
    "--pod-cidr", state.podCidr,
    "--run-dir", p.runDir,
    "--state-dir", p.stateDir,
    "--store", state.store,
  ];
  if (state.store === "embedded") argv.push("--store-dir", lab.storeDir);
  else argv.push("--etcd-endpoints", ETCD_URL);
  return argv;
}

/** A node's podCIDR length: what the agents lease and the controller manager allocates (`--node-cidr-mask-size`). */
export const NODE_CIDR_LEN = 24;

/** Everything the supervisor runs for a lab; `agentOverride` is WEFT_LAB_AGENT_CMD. */
export function labDaemons(lab: LabLayout, state: Omit<LabState, "daemons">, agentOverride = process.env[AGENT_CMD_ENV]): ProcessSpec[] {
  // The control plane first: the API server takes the longest to be ready.
  const daemons: ProcessSpec[] = state.kubernetes ? controlPlaneDaemons(lab, { podCidr: state.podCidr, nodeCidrLen: NODE_CIDR_LEN }) : [];
  // Every node of a lab with Kubernetes runs a lab kubelet.
  if (state.kubernetes) daemons.push(...kubeletDaemons(lab, state.nodes));
  daemons.push(...state.nodes.map((node): ProcessSpec => {
    const agent = agentCommand(lab, state, node);
    const name = `${node.name}-agent`;
    const inNode = ["ip", "netns", "exec", node.netns];
    if (!agentOverride) return { name, argv: [...inNode, ...agent], log: logFile(lab, name) };
    return {
      name,
      argv: [...inNode, "sh", "-c", agentOverride, "weft-agent", ...agent],
      env: { WEFT_NODE_NAME: node.name, WEFT_NODE_INDEX: String(node.index), WEFT_RUN_DIR: nodePaths(lab, node.name).runDir },
      log: logFile(lab, name),
    };
  }));
  const scenario = state.scenario === null ? null : findScenario(state.scenario);
  for (const d of scenario?.daemons?.(state.nodes) ?? []) {
    const name = `${d.node.name}-${d.name}`;
    daemons.push({ name, argv: ["ip", "netns", "exec", d.node.netns, ...d.argv], log: logFile(lab, name) });
  }
  const inOutside = ["ip", "netns", "exec", lab.outsideNs];
  daemons.push({
    name: OUTSIDE_ECHO,
    argv: [...inOutside, process.execPath, ...NODE_FLAGS, ECHO_SOURCE, "--port", String(OUTSIDE_PORT)],
    log: logFile(lab, OUTSIDE_ECHO),
  });
  if (state.store === "etcd") {
    const peer = "http://127.0.0.1:2380";
    daemons.push({
      name: "etcd",
      argv: [
        ...inOutside, "etcd", "--name", "lab", "--data-dir", lab.etcdDir,
        "--listen-client-urls", ETCD_URL, "--advertise-client-urls", ETCD_URL,
        "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", `lab=${peer}`,
      ],
      log: logFile(lab, "etcd"),
    });
  }
  return daemons;
}

/** supervisor.json: the supervisor's pid and its processes. */
export interface SupervisorReport {
  pid: number;
  processes: ProcessStatus[];
}

/** Starts the lab's detached supervisor and records its pid and start time in supervisor.pid. */
export function startSupervisor(lab: LabLayout): number {
  mkdirSync(lab.logsDir, { recursive: true });
  const fd = openSync(logFile(lab, "supervisor"), "a");
  try {
    const child = spawn(process.execPath, [...NODE_FLAGS, MAIN, "lab", "supervise", "--name", lab.name], {
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    child.unref();
    writeFileSync(lab.supervisorPidFile, `${child.pid} ${startTime(child.pid!) ?? ""}\n`);
    return child.pid!;
  } finally {
    closeSync(fd);
  }
}

/** The supervisor's report, or null before it has written one. */
export function readSupervisorReport(lab: LabLayout): SupervisorReport | null {
  try {
    return JSON.parse(readFileSync(lab.supervisorStatusFile, "utf8")) as SupervisorReport;
  } catch {
    return null;
  }
}

/** The running supervisor's pid, checked against its start time and command line, or null. */
export function supervisorPid(lab: LabLayout): number | null {
  let pid: number;
  let started: number;
  try {
    [pid, started] = readFileSync(lab.supervisorPidFile, "utf8").trim().split(" ").map(Number) as [number, number];
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return null;
  if (startTime(pid) !== started) return null; // the pid was reused
  const argv = cmdline(pid);
  const i = argv.indexOf("supervise");
  return i > 0 && argv[i - 1] === "lab" && argv[i + 2] === lab.name ? pid : null;
}

/** Stops the supervisor, which stops its processes first; SIGKILL after `timeoutMs`. */
export async function stopSupervisor(lab: LabLayout, timeoutMs: number): Promise<void> {
  const pid = supervisorPid(lab);
  if (pid !== null) await stopProcesses([pid], timeoutMs);
}

/** The body of `weft lab supervise`: runs the lab's daemons until SIGTERM or SIGINT. */
export async function superviseLab(lab: LabLayout): Promise<number> {
  const state = readLabState(lab);
  const supervisor = new Supervisor(state.daemons, {
    onChange: (processes) => writeJsonAtomic(lab.supervisorStatusFile, { pid: process.pid, processes } satisfies SupervisorReport),
  });
  const stop = new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  supervisor.start();
  await stop;
  await supervisor.stop(1000);
  return 0;
}
