/**
 * Reads the facts of a pod-to-pod path from the kernel, without sending a
 * packet: per node one read per table (`ip -d -j addr`, `ip -j neigh`,
 * `bridge -j fdb`, the forwarding sysctl, `nft -j list ruleset`), per pod its
 * links, and the kernel's own route decisions (`ip -j route get … iif DEV`)
 * for the path's addresses, and each node agent's own view of its peers
 * (its /status), which says why it left a peer out. Everything runs in
 * parallel through Runners, so this process never enters a namespace.
 */
import { existsSync } from "node:fs";
import { readJson, run, createRunner, type Runner } from "../kernel/runner.ts";
import { fetchAgent } from "../agent/client.ts";
import type { AgentStatus } from "../agent/status.ts";
import { logFile, nodeNs, nodePaths, type LabLayout } from "../lab/layout.ts";
import type { LabNode, LabState, PodRecord } from "../lab/state.ts";
import type { NftRuleset } from "../kernel/nft-ruleset.ts";
import { parsePrefix } from "../lib/ipv4.ts";
import { backendTrace } from "./backends/registry.ts";
import { inet, type AgentView, type FdbFacts, type LinkFacts, type Lookup, type NeighFacts, type NodeFacts, type PathFacts, type PodFacts } from "./facts.ts";
import { forwardChains } from "./nft.ts";
import { readPolicyFacts, type TracePort } from "./policy.ts";

/** Reads one node's tables. */
async function readNodeFacts(lab: LabLayout, state: LabState, node: LabNode): Promise<NodeFacts> {
  const r = createRunner(nodeNs(lab, node.name));
  const [links, neighs, fdb, ipForward, ruleset, agent] = await Promise.all([
    readJson<LinkFacts[]>(r, ["ip", "-d", "-j", "addr", "show"]),
    readJson<NeighFacts[]>(r, ["ip", "-4", "-j", "neigh", "show"]),
    readJson<FdbFacts[]>(r, ["bridge", "-j", "fdb", "show"]),
    run(r, ["sysctl", "-n", "net.ipv4.ip_forward"]),
    readJson<NftRuleset>(r, ["nft", "-j", "list", "ruleset"]),
    readAgentView(nodePaths(lab, node.name).agentSocket),
  ]);
  return {
    name: node.name,
    netns: r.netns!,
    underlayIp: node.underlayIp,
    underlayIface: links.find((l) => inet(l).some((a) => a.local === node.underlayIp))?.ifname ?? state.iface,
    agentLog: logFile(lab, `${node.name}-agent`),
    links,
    neighs,
    fdb,
    ipForward: ipForward.trim(),
    forwardChains: forwardChains(ruleset, parsePrefix(state.podCidr, "the lab's pod CIDR")),
    agent,
  };
}

/** The agent's readiness and peer problems from its /status, or null when it does not answer. */
async function readAgentView(socket: string): Promise<AgentView | null> {
  try {
    const status = await fetchAgent<AgentStatus>(socket, "/status");
    return { ready: status.ready, peerProblems: Object.fromEntries(status.peers.flatMap((p) => (p.problem ? [[p.node, p.problem.message]] : []))) };
  } catch {
    return null;
  }
}

/** Reads one pod's links; a pod whose namespace is gone has none. */
async function readPodFacts(pod: PathPod): Promise<PodFacts> {
  const present = existsSync(`/run/netns/${pod.netns}`);
  const links = present ? await readJson<LinkFacts[]>(createRunner(pod.netns), ["ip", "-d", "-j", "addr", "show"]) : [];
  return { name: pod.name, node: pod.node, netns: pod.netns, ip: pod.ip, present, links };
}

/** Asks the kernel which route it takes for `args` (what follows `ip route get`). */
async function lookupRoute(runner: Runner, args: string[]): Promise<Lookup> {
  const query = args.join(" ");
  const r = await runner.exec(["ip", "-j", "route", "get", ...args]);
  if (r.code !== 0) return { query, route: null, error: r.stderr.trim().replace(/^RTNETLINK answers: /, "") || `exit status ${r.code}` };
  return { query, route: (JSON.parse(r.stdout) as NonNullable<Lookup["route"]>[])[0] ?? null, error: null };
}

/** What a path end needs of a pod: a runtime pod's record or a lab kubelet's pod (lab-pods.ts). */
export type PathPod = Pick<PodRecord, "name" | "node" | "netns"> & { ip: string };

/** The pods and nodes of one path, and the bridge the CNI configuration names. */
export interface PathInput {
  lab: LabLayout;
  state: LabState;
  from: PathPod;
  to: PathPod;
  src: LabNode;
  dst: LabNode;
  bridge: string;
  /** The destination port the policy verdict is for; null: any. */
  port: TracePort | null;
}

/** Reads every fact of the path from `from` to `to`: the tables first, then the lookups, which need the destination's ingress device. */
export async function readPathFacts(p: PathInput): Promise<PathFacts> {
  const same = p.src.name === p.dst.name;
  const [from, to, src, dst, policy] = await Promise.all([
    readPodFacts(p.from),
    readPodFacts(p.to),
    readNodeFacts(p.lab, p.state, p.src),
    same ? undefined : readNodeFacts(p.lab, p.state, p.dst),
    // A lab without Kubernetes has no NetworkPolicy API: no policy hops.
    p.state.kubernetes ? readPolicyFacts(nodePaths(p.lab, p.src.name).agentSocket, nodePaths(p.lab, p.dst.name).agentSocket, p.from.ip, p.to.ip, p.port) : undefined,
  ]);
  const podRoute: Lookup = from.present ? await lookupRoute(createRunner(from.netns), [to.ip]) : { query: to.ip, route: null, error: `namespace ${from.netns} is gone` };
  if (dst === undefined) return { lab: p.lab.name, backend: p.state.backend, bridge: p.bridge, from, to, src, dst: src, lookups: { podRoute }, policy };
  const ingress = backendTrace(p.state.backend).ingress(dst);
  const srcNs = createRunner(src.netns);
  const [forward, underlay, deliver] = await Promise.all([
    lookupRoute(srcNs, [to.ip, "from", from.ip, "iif", p.bridge]),
    lookupRoute(srcNs, [dst.underlayIp, "from", src.underlayIp]),
    ingress === null ? undefined : lookupRoute(createRunner(dst.netns), [to.ip, "from", from.ip, "iif", ingress]),
  ]);
  return { lab: p.lab.name, backend: p.state.backend, bridge: p.bridge, from, to, src, dst, lookups: { podRoute, forward, underlay, deliver }, policy };
}
