/**
 * What `weft doctor` knows about a node: raw reads of its kernel state, its
 * agent's API and its CNI files, collected once (collect.ts) and then
 * judged by the checks. Every read may fail on its own; a failed read is
 * kept with its reason, so one missing tool or a stopped agent never hides
 * the rest of the report.
 */
import type { KubeFacts } from "./kube-facts.ts";
import type { ForeignForwardChain } from "./forward-chains.ts";
import type { IpLink, IpRoute } from "../kernel/json.ts";
import type { ExecResult } from "../kernel/runner.ts";
import type { VxlanState } from "../backend/vxlan/peers.ts";
import type { AgentStatus, ConnectionStatus } from "../agent/status.ts";
import type { PolicyStatus } from "../policy/controller.ts";
import type { ServicesStatus } from "../agent/api.ts";
import type { KubeProxyFacts, ProxyTableFacts } from "./proxy-facts.ts";

/** A read that worked, or the one-line reason it did not. */
export type Read<T> = { ok: true; value: T } | { ok: false; error: string };

/** Where doctor looks on one node. */
export interface DoctorPaths {
  /** The agent's `--run-dir` (default /run/weft). */
  runDir: string;
  /** The agent's API socket, RUN_DIR/agent.sock. */
  socket: string;
  /** The subnet file the agent writes, RUN_DIR/subnet.env. */
  subnetFile: string;
  /** The runtime's CNI configuration directory (default /etc/cni/net.d). */
  confDir: string;
  /** The runtime's CNI plugin directory (default /opt/cni/bin). */
  binDir: string;
}

/** A link of `ip -d -j addr`, with the bridge it is enslaved to. */
export interface Link extends IpLink {
  master?: string;
}

/** The vxlan device weft made and its per-peer tables. */
export interface VxlanFacts extends VxlanState {
  /** The device, e.g. weft.1. */
  device: string;
}

/** The node's network namespace. */
export interface KernelFacts {
  /** `sysctl -n net.ipv4.ip_forward`: "1" or "0". */
  ipForward: Read<string>;
  /** `ip -d -j addr`. */
  links: Read<Link[]>;
  /** `ip -4 -j route show table main`. */
  routes: Read<IpRoute[]>;
  /** `ip -4 -j route show proto 87`: the host-gw backend's routes. */
  hostgwRoutes: Read<IpRoute[]>;
  /** The weft vxlan device's routes, neighbours and FDB; null when the node has no such device. */
  vxlan: Read<VxlanFacts> | null;
  /** Table `ip weft`'s objects, taken from `nft -j list ruleset`; null when the table does not exist. */
  nftTable: Read<unknown[] | null>;
  /** Other tables' ip/inet chains on the forward hook (`nft -j list ruleset`). */
  forwardChains: Read<ForeignForwardChain[]>;
  /** Table `inet weft-policy`'s objects (network policy), from the same listing; null when it does not exist. */
  policyTable: Read<unknown[] | null>;
  /** Table `ip weft-proxy`'s map elements (the service proxy), from the same listing; null when it does not exist. */
  proxyTable: Read<ProxyTableFacts | null>;
  /** kube-proxy's tables and KUBE-SERVICES chains in the same listing, with the service keys each translates. */
  kubeProxy: Read<KubeProxyFacts[]>;
}

/** The agent's API. A stopped agent fails every read with the same reason. */
export interface AgentFacts {
  /** `/healthz`'s text. */
  health: Read<string>;
  /** `/readyz`'s text: "ready" or "not ready: …". */
  ready: Read<string>;
  status: Read<AgentStatus>;
  connections: Read<ConnectionStatus[]>;
  /** `/policy`: the network policy's view of the node's pods (fails with POLICY_OFF's message where policy does not run). */
  policy: Read<PolicyStatus>;
  /** `/services`: the service proxy's programmed ports (fails with SERVICE_PROXY_OFF's message where the proxy does not run). */
  services: Read<ServicesStatus>;
}

/** The runtime's side: what a kubelet would find. */
export interface CniFacts {
  /** The file names in the conf dir, sorted (the runtime uses the first network configuration). */
  confFiles: Read<string[]>;
  /** The text of CONF_DIR/10-weft.conflist. */
  conflist: Read<string>;
  /** The subnet file the conflist names (or the plugin's default) and whether it exists; null when the conflist has no weft entry. */
  namedSubnetFile: { path: string; exists: boolean } | null;
  /** BIN_DIR/weft's permission bits. */
  plugin: Read<{ mode: number }>;
  /** What BIN_DIR/weft answered to CNI_COMMAND=VERSION. */
  pluginVersion: Read<ExecResult>;
  /** The text of the subnet file. */
  subnetFile: Read<string>;
}

/** Everything known about one node. */
export interface NodeFacts {
  /** The node's name: the lab's, else the agent's, else the hostname. */
  name: string;
  paths: DoctorPaths;
  /** Where the agent's log is, for fixes. */
  agentLog: string;
  /** A shell command as it is run on this node, for fixes (a lab node: `weft lab exec NODE -- …`). */
  onNode(command: string): string;
  kernel: KernelFacts;
  agent: AgentFacts;
  cni: CniFacts;
  /** The largest packet the underlay carried to a peer's public IP, for each peer whose full-MTU ping failed (null: not even the smallest got through). */
  pathMtu: Record<string, number | null>;
}

/** All nodes doctor looked at. */
export interface Cluster {
  nodes: NodeFacts[];
  /** The lab, when doctor looks at one: its name and the `weft lab up` command that made it, without --iface and --pod-cidr. */
  lab: { name: string; upCommand: string } | null;
  /** The cluster's Nodes and node CIDR allocation, when doctor was given a way to the API server; null otherwise. */
  kubernetes: Read<KubeFacts> | null;
}

/** The value of a read, or undefined when it failed. */
export function valueOf<T>(read: Read<T> | null): T | undefined {
  return read?.ok ? read.value : undefined;
}
