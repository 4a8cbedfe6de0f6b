/**
 * The lab's wiring, and the only code that creates or deletes its
 * namespaces. Kernel state it owns, all inside namespaces it creates:
 *
 *     NAME-sw       lo, bridge br0, one veth end per node ("nodeK"), one
 *                   for the outside host ("outside") and one for the control
 *                   plane ("control"), all enslaved to br0
 *     NAME-nodeK    lo, eth0 = 192.168.125.(100+K)/24, default via .1
 *     NAME-control  lo, eth0 = 192.168.125.100/24, default via .1 (only
 *                   when the lab runs Kubernetes)
 *     NAME-outside  lo, eth0 = 192.168.125.1/24
 *
 * A scenario (scenarios.ts) may give the nodes' switch link another name
 * (`underlayIface`), the control plane's link another MTU (`controlMtu`),
 * and add lines to the switch and node batches.
 *
 * Every veth is created inside the switch namespace with its peer placed
 * straight into the node's namespace (`peer name eth0 netns NODE`), so no
 * link ever exists in the host's namespace, not even for a moment.
 *
 * Each namespace is marked as the lab's (ownership.ts) in the batch that
 * creates it.
 *
 * Work is batched (STYLE rule 4): one `ip -batch` to create the namespaces,
 * one for the switch, then one per node and outside namespace, in parallel.
 */
import { readdirSync } from "node:fs";
import { createRunner, run, type Runner } from "../kernel/runner.ts";
import { CONTROL_IP, OUTSIDE_IP, ownsNamespace, type LabLayout } from "./layout.ts";
import { markLine, markLines } from "./ownership.ts";
import type { Scenario } from "./scenarios.ts";
import type { LabNode } from "./state.ts";

const UNDERLAY_LEN = 24;

/**
 * Builds the switch, nodes and outside host, and the control plane's
 * namespace when `control`, each namespace marked with `mark`; `nodes` are
 * already named and addressed.
 */
export async function buildTopology(lab: LabLayout, nodes: readonly LabNode[], scenario: Scenario | null, mark: string, control: boolean): Promise<void> {
  const namespaces = [lab.switchNs, lab.outsideNs, ...(control ? [lab.controlNs] : []), ...nodes.map((n) => n.netns)];
  // A new namespace copies its IPv4 settings from the host's; a host running
  // Docker or Kubernetes forwards. Lab hosts start as freshly booted ones do,
  // so that weft is what turns forwarding on in a node, as on a real one.
  await ipBatch(undefined, namespaces.flatMap((ns) => [`netns add ${ns}`, ...markLines(ns, mark), `netns exec ${ns} sysctl -qw net.ipv4.ip_forward=0`]));

  const dev = scenario?.underlayIface ?? "eth0";
  await ipBatch(lab.switchNs, [
    "link set lo up",
    "link add br0 type bridge",
    "link set br0 up",
    ...nodes.map((n) => `link add ${n.name} master br0 up type veth peer name ${dev} netns ${n.netns}`),
    `link add outside master br0 up type veth peer name eth0 netns ${lab.outsideNs}`,
    ...(control ? [`link add control master br0 up type veth peer name eth0 netns ${lab.controlNs}`] : []),
    ...(control && scenario?.controlMtu !== undefined ? [`link set control mtu ${scenario.controlMtu}`] : []),
    ...(scenario?.switchCommands?.(nodes) ?? []),
  ]);

  await Promise.all([
    ipBatch(lab.outsideNs, ["link set lo up", `addr add ${OUTSIDE_IP}/${UNDERLAY_LEN} dev eth0`, "link set eth0 up"]),
    ...(control
      ? [ipBatch(lab.controlNs, [
          "link set lo up",
          `addr add ${CONTROL_IP}/${UNDERLAY_LEN} dev eth0`,
          ...(scenario?.controlMtu !== undefined ? [`link set eth0 mtu ${scenario.controlMtu}`] : []),
          "link set eth0 up",
          `route add default via ${OUTSIDE_IP}`,
        ])]
      : []),
    ...nodes.map((n) =>
      ipBatch(n.netns, [
        "link set lo up",
        `addr add ${n.underlayIp}/${UNDERLAY_LEN} dev ${dev}`,
        `link set ${dev} up`,
        `route add default via ${OUTSIDE_IP}`,
        ...(scenario?.nodeCommands?.(n) ?? []),
      ]),
    ),
  ]);
}

/** Every namespace under /run/netns named as the lab's, whoever made it (ownership.ts tells which the lab made). */
export function labNamespaces(lab: LabLayout): string[] {
  return listNamespaces().filter((ns) => ownsNamespace(lab, ns)).sort();
}

/**
 * Creates a pod's namespace, marked with `mark`, with its loopback up;
 * `runner` runs the command (default: a process of its own).
 *
 * The namespace is marked before it has its name: one process unshares a
 * new network namespace, marks it and brings its loopback up, and only then
 * names it (`ip netns attach NAME PID`, PID its own). A process killed
 * half-way (a kubelet stopped by `lab down` while it starts a pod) leaves
 * nothing; with `netns add` first, it left a named namespace without the
 * mark, which `down` must leave alone. unshare execs sh, which execs ip:
 * one process in all.
 */
export async function createPodNamespace(ns: string, mark: string, runner: Runner = createRunner()): Promise<void> {
  const script = `exec ip -batch - <<EOF\n${markLine("$1")}\nnetns attach $2 $$\nEOF\n`;
  await run(runner, ["unshare", "--net", "--", "sh", "-c", script, "sh", mark, ns]);
}

/**
 * Deletes namespaces; one already gone is fine. Links inside go with the
 * namespace (a veth takes its peer with it) once no process holds it.
 */
export async function deleteNamespaces(names: readonly string[], runner: Runner = createRunner()): Promise<void> {
  if (names.length === 0) return;
  // -force goes on past a failed line; what failed is whatever still exists.
  await runner.exec(["ip", "-force", "-batch", "-"], names.map((ns) => `netns del ${ns}`).join("\n") + "\n");
  const existing = new Set(listNamespaces());
  const left = names.find((ns) => existing.has(ns));
  if (left !== undefined) await run(runner, ["ip", "netns", "del", left]);
}

/** Every namespace name under /run/netns. */
export function listNamespaces(): string[] {
  try {
    return readdirSync("/run/netns");
  } catch {
    return [];
  }
}

/** Runs `lines` as one `ip -batch -` in namespace `ns` (or the current one for namespace-level commands). */
async function ipBatch(ns: string | undefined, lines: readonly string[]): Promise<void> {
  await run(createRunner(ns), ["ip", "-batch", "-"], lines.join("\n") + "\n");
}
