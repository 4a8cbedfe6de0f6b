/**
 * Collects one node's facts (facts.ts): the agent's API first (its status
 * says which vxlan device and peers to look at), then the kernel state, the
 * CNI files and the agent's connection measurement at once, then a path
 * MTU search towards each peer whose full-size packets were lost.
 *
 * Kernel reads go through the target's Runner, so for a lab node they run
 * in that node's namespace; files are read from this process (lab nodes
 * share one filesystem).
 */
import type { PolicyStatus } from "../policy/controller.ts";
import { TABLE as POLICY_TABLE } from "../policy/compile.ts";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fetchAgent } from "../agent/client.ts";
import type { AgentStatus, ConnectionStatus } from "../agent/status.ts";
import { CONFLIST_NAME } from "../cni/conflist.ts";
import type { FdbEntry, IpNeigh, IpRoute } from "../kernel/json.ts";
import { tableObjects, type NftRuleset } from "../kernel/nft-ruleset.ts";
import { readJson, run, type Runner } from "../kernel/runner.ts";
import { describeError } from "../lib/errors.ts";
import { NFT_FAMILY, NFT_TABLE } from "../agent/masquerade.ts";
import { WEFT_ROUTE_PROTO } from "../backend/hostgw/hostgw.ts";
import { summarizeConflist } from "./conflist.ts";
import { foreignForwardChains } from "./forward-chains.ts";
import { valueOf, type AgentFacts, type CniFacts, type DoctorPaths, type KernelFacts, type Link, type NodeFacts, type Read, type VxlanFacts } from "./facts.ts";
import { pingFits, searchPathMtu } from "./path-mtu.ts";
import { kubeProxyFacts, proxyTableFacts } from "./proxy-facts.ts";
import type { ServicesStatus } from "../agent/api.ts";

/** One node to examine and how fixes address it. */
export interface DoctorTarget {
  /** The node's name when known (a lab node); else the agent's or the hostname is used. */
  name: string;
  /** Runs kernel tools in the node's namespace. */
  runner: Runner;
  paths: DoctorPaths;
  /** Where the agent's log is. */
  agentLog: string;
  /** A shell command as it is run on this node, for fixes. */
  onNode(command: string): string;
  /** True when `name` is only a fallback for the agent's own node name. */
  nameFromAgent: boolean;
  /**
   * Where a path the node's own processes name (the conflist's subnet file)
   * is found from here; default the path itself. A lab node with
   * Kubernetes sees its directories at the standard paths (lab/node-view.ts).
   */
  hostPath?(pathOnNode: string): string;
}

/** The plugin executable's name in the bin dir (the conflist's type). */
const PLUGIN_NAME = "weft";
/** The extensions libcni reads from a conf dir. */
const CONF_EXTENSIONS = [".conf", ".conflist", ".json"];

/** Collects everything doctor knows about `target`. */
export async function collectNode(target: DoctorTarget): Promise<NodeFacts> {
  const agent = await readAgent(target.paths.socket);
  const status = valueOf(agent.status);
  const [kernel, cni, connections] = await Promise.all([
    readKernel(target.runner, status),
    readCni(target.runner, target.paths, target.hostPath ?? ((path) => path)),
    status === undefined ? agent.connections : attempt(() => fetchAgent<ConnectionStatus[]>(target.paths.socket, "/connections")),
  ]);
  agent.connections = connections;
  return {
    name: target.nameFromAgent && status ? status.node : target.name,
    paths: target.paths,
    agentLog: target.agentLog,
    onNode: target.onNode,
    kernel,
    agent,
    cni,
    pathMtu: await measurePathMtus(target.runner, status, valueOf(connections) ?? []),
  };
}

/** Runs `f`, keeping its value or its one-line error. */
async function attempt<T>(f: () => Promise<T> | T): Promise<Read<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

/** /healthz, /readyz, /status; /connections is read later, alongside the kernel. */
async function readAgent(socket: string): Promise<AgentFacts> {
  const health = await attempt(() => fetchAgent<string>(socket, "/healthz"));
  if (!health.ok) return { health, ready: health, status: health, connections: health, policy: health, services: health };
  const [ready, status, policy, services] = await Promise.all([
    attempt(() => fetchAgent<string>(socket, "/readyz")),
    attempt(() => fetchAgent<AgentStatus>(socket, "/status")),
    attempt(async () => {
      const p = await fetchAgent<PolicyStatus>(socket, "/policy");
      // An agent from before /policy, or something else on the socket, answers otherwise.
      if (typeof p !== "object" || p === null || !Array.isArray(p.pods)) throw new Error("the agent has no /policy: network policy does not run there");
      return p;
    }),
    attempt(async () => {
      const s = await fetchAgent<ServicesStatus>(socket, "/services");
      // As for /policy: an agent from before /services, or something else on the socket, answers otherwise.
      if (typeof s !== "object" || s === null || !Array.isArray(s.ports)) throw new Error("the agent has no /services: it runs no service proxy");
      return s;
    }),
  ]);
  return { health, ready, status, connections: { ok: false, error: "not measured" }, policy, services };
}

async function readKernel(runner: Runner, status: AgentStatus | undefined): Promise<KernelFacts> {
  const [ipForward, links, routes, hostgwRoutes, ruleset] = await Promise.all([
    attempt(async () => (await run(runner, ["sysctl", "-n", "net.ipv4.ip_forward"])).trim()),
    attempt(() => readJson<Link[]>(runner, ["ip", "-d", "-j", "addr"])),
    attempt(() => readJson<IpRoute[]>(runner, ["ip", "-4", "-j", "route", "show", "table", "main"])),
    attempt(() => readJson<IpRoute[]>(runner, ["ip", "-4", "-j", "route", "show", "proto", WEFT_ROUTE_PROTO])),
    attempt(() => readJson<NftRuleset>(runner, ["nft", "-j", "list", "ruleset"])),
  ]);
  const nftTable = ruleset.ok ? { ok: true as const, value: tableObjects(ruleset.value, NFT_FAMILY, NFT_TABLE) } : ruleset;
  const forwardChains = ruleset.ok ? { ok: true as const, value: foreignForwardChains(ruleset.value) } : ruleset;
  const policyTable = ruleset.ok ? { ok: true as const, value: tableObjects(ruleset.value, POLICY_TABLE.family, POLICY_TABLE.name) } : ruleset;
  const proxyTable = ruleset.ok ? { ok: true as const, value: proxyTableFacts(ruleset.value) } : ruleset;
  const kubeProxy = ruleset.ok ? { ok: true as const, value: kubeProxyFacts(ruleset.value) } : ruleset;
  const device = weftVxlanDevice(valueOf(links) ?? [], status?.publicIp);
  const vxlan = device === undefined ? null : await attempt(() => readVxlan(runner, device));
  return { ipForward, links, routes, hostgwRoutes, vxlan, nftTable, forwardChains, policyTable, proxyTable, kubeProxy };
}

/**
 * The vxlan device weft made: a vxlan link called weft.<VNI>, the one whose
 * local address is `publicIp` when there are several.
 */
function weftVxlanDevice(links: readonly Link[], publicIp: string | undefined): string | undefined {
  const candidates = links.filter((l) => l.linkinfo?.info_kind === "vxlan" && /^weft\.\d+$/.test(l.ifname));
  return (candidates.find((l) => l.linkinfo?.info_data?.["local"] === publicIp) ?? candidates[0])?.ifname;
}

async function readVxlan(runner: Runner, device: string): Promise<VxlanFacts> {
  const [routes, neighs, fdb] = await Promise.all([
    readJson<IpRoute[]>(runner, ["ip", "-4", "-j", "route", "show", "dev", device]),
    readJson<IpNeigh[]>(runner, ["ip", "-4", "-j", "neigh", "show", "dev", device]),
    readJson<FdbEntry[]>(runner, ["bridge", "-j", "fdb", "show", "dev", device]),
  ]);
  return { device, routes, neighs, fdb };
}


async function readCni(runner: Runner, paths: DoctorPaths, hostPath: (pathOnNode: string) => string): Promise<CniFacts> {
  const conflistPath = join(paths.confDir, CONFLIST_NAME);
  const plugin = join(paths.binDir, PLUGIN_NAME);
  const conflist = await attempt(() => readFileSync(conflistPath, "utf8"));
  let namedSubnetFile: CniFacts["namedSubnetFile"] = null;
  if (conflist.ok) {
    try {
      const path = summarizeConflist(conflist.value, conflistPath).subnetFile;
      if (path !== null) namedSubnetFile = { path, exists: existsSync(hostPath(path)) };
    } catch {
      // The conflist check reports why it does not parse.
    }
  }
  const mode = await attempt(() => ({ mode: statSync(plugin).mode }));
  return {
    confFiles: await attempt(() => readdirSync(paths.confDir).filter((f) => CONF_EXTENSIONS.some((e) => f.endsWith(e))).sort()),
    conflist,
    namedSubnetFile,
    plugin: mode,
    pluginVersion: mode.ok ? await attempt(() => runner.exec(["env", "CNI_COMMAND=VERSION", plugin], '{"cniVersion":"1.0.0"}')) : mode,
    subnetFile: await attempt(() => readFileSync(paths.subnetFile, "utf8")),
  };
}

/** The path MTU to each peer whose full-size ping was lost while small ones got through. */
async function measurePathMtus(runner: Runner, status: AgentStatus | undefined, connections: readonly ConnectionStatus[]): Promise<Record<string, number | null>> {
  const lossy = connections.filter((c) => c.reachable && !c.mtuOk);
  if (status === undefined || lossy.length === 0) return {};
  const max = status.underlay.mtu;
  const found = await Promise.all(lossy.map((c) => searchPathMtu(pingFits(runner, c.publicIp), max)));
  return Object.fromEntries(lossy.map((c, i) => [c.publicIp, found[i]!]));
}
