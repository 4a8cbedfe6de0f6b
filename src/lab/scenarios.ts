/**
 * Scenarios: named variations of the lab that reproduce a failure seen in
 * real clusters (`weft lab up --scenario NAME`), each one diagnosed by
 * `weft doctor --lab NAME`. A scenario may rename the nodes' link to the
 * switch, add `ip` batch lines to the switch and to every node after the
 * plain topology is built, set the control plane's link MTU, choose the pod
 * CIDR, and have the supervisor run extra processes in nodes. A new scenario is one entry in SCENARIOS.
 */
import { WeftError } from "../lib/errors.ts";
import type { LabNode } from "./state.ts";

/** One scenario; every field but `summary` is optional. */
export interface Scenario {
  /** One line for `weft lab up --help`. */
  summary: string;
  /** The name of each node's link to the switch; default eth0. */
  underlayIface?: string;
  /** The cluster CIDR the agents get when `--pod-cidr` is not given; default 10.244.0.0/16. */
  podCidr?: string;
  /**
   * With Kubernetes, false runs the lab kubelets without --node-ip: each
   * registers its default route's source address as the Node's InternalIP,
   * as kubelet does. Default true: the node's underlay address.
   */
  kubeletNodeIp?: boolean;
  /** The MTU of the control plane's link to the switch, both ends (labs with Kubernetes); default 1500. */
  controlMtu?: number;
  /** Extra `ip -batch` lines run in the switch's namespace after it is wired. */
  switchCommands?(nodes: readonly LabNode[]): string[];
  /** Extra `ip -batch` lines run in each node's namespace after its plain set-up. */
  nodeCommands?(node: LabNode): string[];
  /** Extra processes the supervisor runs (and restarts) in a node's namespace, next to its agent. */
  daemons?(nodes: readonly LabNode[]): ScenarioDaemon[];
}

/** A process a scenario runs in a node. */
export interface ScenarioDaemon {
  node: LabNode;
  /** Its supervised name is NODE-NAME, e.g. node2-hardening; its log is logs/NODE-NAME.log. */
  name: string;
  argv: string[];
}

/** The MTU of the switch's ports to the nodes in `mtu-mismatch` (the nodes' links say 1500). */
export const MISMATCH_SWITCH_MTU = 1400;

/** The scenarios `--scenario` accepts. */
export const SCENARIOS: Record<string, Scenario> = {
  // Vagrant, VirtualBox and many cloud images give every machine the same
  // NAT interface (10.0.2.15 behind 10.0.2.2) carrying the default route,
  // and put the network the machines share on a second interface. An agent
  // left to its default choice (the default route's interface) advertises
  // 10.0.2.15 on every node, so peers refuse each other's leases and no pod
  // traffic crosses nodes. Learn: on multi-homed nodes, tell the agent
  // which interface the nodes share (`--iface eth1` or
  // `--iface-can-reach 192.168.125.1`); `weft lab up --scenario wrong-iface
  // --iface eth1` is the working cluster.
  // With Kubernetes the kubelets run without --node-ip, as kubeadm's do
  // unless told, so each registers the default route's 10.0.2.15 as its
  // Node's InternalIP, the address weft's agent takes when told no
  // interface: kubelet's choice is what goes wrong first on such boxes
  // (kubectl logs and exec fail too), and --iface eth1 in weft-config is
  // what fixes the pod network.
  "wrong-iface": {
    summary: "eth0 is a NAT interface with 10.0.2.15 on every node and the default route; the nodes share eth1 (try --iface eth1)",
    underlayIface: "eth1",
    kubeletNodeIp: false,
    nodeCommands: () => [
      "link add eth0 type veth peer name nat0",
      "addr add 10.0.2.15/24 dev eth0",
      "link set eth0 up",
      "link set nat0 up",
      "route replace default via 10.0.2.2 dev eth0",
    ],
  },

  // The agent turns IP forwarding on at start and the CNI plugin at every
  // pod ADD, but neither fights whatever turns it off later: a hardening
  // baseline enforced by configuration management (the CIS benchmark's
  // "ensure IP forwarding is disabled", net.ipv4.ip_forward = 0 in
  // /etc/sysctl.d applied by every Ansible/Puppet run or `sysctl --system`).
  // Here a loop on node2 plays that tool, once a second, so the failure
  // also survives the next pod ADD. node2 keeps answering at its own
  // addresses, while every pod packet that has to cross it (remote pod to
  // local pod, local pod to anywhere else) is dropped. Learn: forwarding is
  // per network namespace and easy to lose; check it first when only pod
  // traffic through one node fails, and find the tool that turns it off.
  "no-forwarding": {
    summary: "a hardening tool on node2 keeps turning IP forwarding off, as a CIS baseline enforced by config management would",
    daemons: (nodes) => [
      { node: victimOf(nodes), name: "hardening", argv: ["sh", "-c", "while :; do sysctl -qw net.ipv4.ip_forward=0; sleep 1; done"] },
    ],
  },

  // A path between the nodes carries smaller packets than the interfaces
  // claim: a VPN or tunnel in between, a cloud network with a 1460 MTU, a
  // switch port configured differently. Packets that fit pass and pings
  // work; full-size ones vanish (a PMTU black hole: a layer-2 hop can
  // neither fragment nor send back "fragmentation needed", it drops what is
  // too large, and the nodes go on sending full-size frames). Here the
  // switch's ports to the nodes are 1400 while the nodes' eth0 say 1500.
  // Learn: the pod MTU must fit the smallest link on the path; set the
  // underlay MTU to what the path carries (or lower the pod MTU).
  // In a lab with Kubernetes the control plane's host has its MTU set to
  // what the path carries (its TCP peers then send segments that fit), as
  // a control plane must for the cluster to come up at all: with 1500 on
  // both sides, the API server's larger answers to the kubelets would
  // vanish the same way and no node would turn Ready.
  "mtu-mismatch": {
    summary: `the switch's ports carry ${MISMATCH_SWITCH_MTU} bytes while the nodes' eth0 say 1500: small packets pass, full-size ones vanish`,
    controlMtu: MISMATCH_SWITCH_MTU,
    switchCommands: (nodes) => nodes.map((n) => `link set ${n.name} mtu ${MISMATCH_SWITCH_MTU}`),
  },

  // The cluster CIDR overlaps the network the nodes live on, a classic of
  // kubeadm and Calico set-ups that take 192.168.0.0/16 for pods on hosts
  // numbered in 192.168.x.y. The agents' masquerade treats every address in
  // the cluster CIDR as a pod, so pod traffic to hosts on the underlay (the
  // outside host 192.168.125.1 here) leaves un-NATed with a pod source
  // address the hosts have no route back to; and a node subnet leased on
  // top of the underlay would hijack the nodes' own addresses. Learn: pick
  // a pod CIDR that overlaps no host, service or VPN network.
  overlap: {
    summary: "the pod CIDR is 192.168.0.0/16, which holds the underlay 192.168.125.0/24",
    podCidr: "192.168.0.0/16",
  },
};

/** The node `no-forwarding` breaks: node2, or the only node of a one-node lab. */
function victimOf(nodes: readonly LabNode[]): LabNode {
  return nodes[1] ?? nodes[0]!;
}

/** The scenario called `name`, or SCENARIO_UNKNOWN listing the known ones. */
export function findScenario(name: string): Scenario {
  const s = SCENARIOS[name];
  if (!s) {
    throw new WeftError("SCENARIO_UNKNOWN", `unknown scenario "${name}"`, { hint: `known scenarios: ${Object.keys(SCENARIOS).join(", ")}` });
  }
  return s;
}
