/**
 * Reads the facts of a service trace (facts.ts):
 *
 *   - the Service and its EndpointSlices, with kubectl (the lab's API server
 *     is reachable only inside the lab, so kubectl runs in its control
 *     plane's namespace), converted at the boundary by src/kube;
 *   - the source node's table `ip weft-proxy`: `nft get element` for the
 *     traced key in the maps service-ips and no-endpoint-services and for
 *     the ClusterIP in set cluster-ips, then the endpoints it chooses among:
 *     for a shared pick chain (pick-cluster-<p>-N, pick-local-<p>-N) the
 *     N slots of the key in map endpoints-<p> (`nft get element`), else
 *     `nft -j list chain` for the service's chain and each endpoint chain;
 *   - a probe from the source pod (one TCP connection, one UDP datagram or
 *     one ping, never more) and, for a connection, its conntrack entry on
 *     the node, whose reply tuple names the endpoint the kernel chose.
 *
 * Every command runs in a child process in the namespace (Runners), so this
 * process never enters one.
 */
import { execFile } from "node:child_process";
import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import { fromV1EndpointSlice, SERVICE_NAME_LABEL } from "../../kube/endpointslices.ts";
import { fromV1Service } from "../../kube/services.ts";
import { createRunner, type ExecResult, type Runner } from "../../kernel/runner.ts";
import { WeftError } from "../../lib/errors.ts";
import { formatPrefix } from "../../lib/ipv4.ts";
import { endpointsSet, planService, TABLE, SET_CLUSTER_IPS, SET_NO_ENDPOINT_SERVICES, SET_SERVICE_IPS } from "../../proxy/plan.ts";
import type { EndpointSlice, Service, ServicePort } from "../../proxy/types.ts";
import { readSubnetFile } from "../../subnet/file.ts";
import type { TracedPod } from "../lab-pods.ts";
import type { ProbeFacts, ProxyKernelFacts, ServiceFacts, TraceProtocol } from "./facts.ts";
import { runProbe } from "./probe.ts";
import { formatServiceRef, type ServiceRef } from "./ref.ts";

/** kubectl as the lab's admin: runs with `args`, output collected. */
export type KubectlRun = (args: string[]) => Promise<ExecResult>;

/** The service CIDR the lab's API server allocates from (the agent's default serviceCidr). */
const SERVICE_CIDR = "10.96.0.0/12";
/** How long the probe may wait for a connection or an answer. */
const PROBE_TIMEOUT_MS = 2000;
/** How long a UDP probe waits for an answer or a refusal before it counts as sent. */
const UDP_WAIT_MS = 300;

/** Error codes. */
export const SERVICE_NOT_FOUND = "SERVICE_NOT_FOUND";
export const SERVICE_PORT_NOT_FOUND = "SERVICE_PORT_NOT_FOUND";

/** The source of a service trace. */
export interface ServiceInput {
  lab: string;
  from: TracedPod;
  node: { name: string; netns: string; subnetFile: string };
  /** The lab's pod CIDR. */
  podCidr: string;
  ref: ServiceRef;
  /** --protocol, when given. */
  protocol: TraceProtocol | undefined;
  kubectl: KubectlRun;
}

async function kubectlJson<T>(kubectl: KubectlRun, args: string[]): Promise<T | null> {
  const r = await kubectl([...args, "-o", "json"]);
  if (r.code !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return null;
    throw new WeftError("KUBECTL_FAILED", `kubectl ${args.join(" ")} failed: ${r.stderr.trim().split("\n").at(-1) ?? `exit status ${r.code}`}`);
  }
  return JSON.parse(r.stdout) as T;
}

/** The Service the reference names, its ClusterIP, and its slices. */
async function readService(input: ServiceInput): Promise<{ service: Service; clusterIP: string; slices: EndpointSlice[] }> {
  const { ref, kubectl } = input;
  let raw: V1Service | undefined;
  if (ref.kind === "name") {
    raw = (await kubectlJson<V1Service>(kubectl, ["get", "service", "-n", ref.namespace, ref.name])) ?? undefined;
    if (raw === undefined) {
      throw new WeftError(SERVICE_NOT_FOUND, `trace: the cluster has no Service ${ref.namespace}/${ref.name}`, { hint: `list them: weft lab kubectl --name ${input.lab} -- get services -A` });
    }
  } else {
    const all = await kubectlJson<{ items: V1Service[] }>(kubectl, ["get", "services", "--all-namespaces"]);
    raw = all?.items.find((s) => s.spec?.clusterIP === ref.ip || s.spec?.clusterIPs?.includes(ref.ip));
    if (raw === undefined) {
      throw new WeftError(SERVICE_NOT_FOUND, `trace: no Service has ClusterIP ${ref.ip}; the service proxy drops packets to addresses of the service CIDR no Service holds, so a connection to it times out`, {
        hint: `list the ClusterIPs: weft lab kubectl --name ${input.lab} -- get services -A`,
      });
    }
  }
  const service = fromV1Service(raw);
  if (service === undefined) throw new WeftError(SERVICE_NOT_FOUND, `trace: ${formatServiceRef(ref)} is not a stored Service (no name or namespace)`);
  const clusterIP = ref.kind === "ip" ? ref.ip : service.clusterIPs[0];
  if (clusterIP === undefined) {
    throw new WeftError(SERVICE_NOT_FOUND, `trace: Service ${service.namespace}/${service.name} has no ClusterIP (${service.type === "ExternalName" ? "ExternalName: DNS only" : "headless: its name resolves to the pods themselves"}), so no packet is translated`, {
      hint: "trace to one of its pods instead: weft trace POD-A POD-B",
    });
  }
  const list = await kubectlJson<{ items: V1EndpointSlice[] }>(kubectl, ["get", "endpointslices", "-n", service.namespace, "-l", `${SERVICE_NAME_LABEL}=${service.name}`]);
  const slices = (list?.items ?? []).flatMap((s) => fromV1EndpointSlice(s) ?? []);
  return { service, clusterIP, slices };
}

/** The Service's port the reference and --protocol pick; null for ICMP and for a number the Service does not define. */
export function pickPort(service: Service, ref: ServiceRef, protocol: TraceProtocol | undefined): { port: ServicePort | null; dport: number | null; protocol: TraceProtocol } {
  const key = `${service.namespace}/${service.name}`;
  const list = service.ports.map((p) => `${p.name ? `${p.name} ` : ""}${p.port}/${p.protocol}`).join(", ") || "none";
  if (protocol === "icmp") return { port: null, dport: null, protocol };
  const fits = (p: ServicePort) => protocol === undefined || p.protocol.toLowerCase() === protocol;
  if (typeof ref.port === "number") {
    const p = service.ports.find((x) => x.port === ref.port && fits(x));
    return { port: p ?? null, dport: ref.port, protocol: protocol ?? (p ? (p.protocol.toLowerCase() as TraceProtocol) : "tcp") };
  }
  if (typeof ref.port === "string") {
    const p = service.ports.find((x) => x.name === ref.port && fits(x));
    if (!p) throw new WeftError(SERVICE_PORT_NOT_FOUND, `trace: Service ${key} has no port named "${ref.port}"${protocol ? ` for ${protocol.toUpperCase()}` : ""}; its ports: ${list}`, { hint: `name one of them, e.g. ${key}:${service.ports[0]?.port ?? 80}` });
    return { port: p, dport: p.port, protocol: p.protocol.toLowerCase() as TraceProtocol };
  }
  const candidates = service.ports.filter(fits);
  if (candidates.length !== 1) {
    throw new WeftError(SERVICE_PORT_NOT_FOUND, `trace: Service ${key} has ${candidates.length === 0 ? "no port" : `${candidates.length} ports`}${protocol ? ` for ${protocol.toUpperCase()}` : ""} (${list}); say which`, {
      hint: `add :PORT, e.g. ${key}:${service.ports[0]?.port ?? 80}${candidates.length === 0 ? ", or --protocol icmp to see what a ping does" : ""}`,
    });
  }
  const p = candidates[0]!;
  return { port: p, dport: p.port, protocol: p.protocol.toLowerCase() as TraceProtocol };
}

/** `nft get element` of one key: the element's verdict ("" for a set element), or null when there is none. */
async function getElement(nft: Runner, set: string, key: string): Promise<string | null> {
  const r = await nft.exec(["nft", "get", "element", TABLE.family, TABLE.name, set, `{ ${key} }`]);
  if (r.code !== 0) return null;
  const m = /elements = \{ [^:}]*?(?::\s*([^}]*?))?\s*\}/.exec(r.stdout);
  return m ? (m[1] ?? "").trim() : null;
}

interface ChainRule {
  expr?: unknown[];
}

/** The rules of one chain of the proxy's table. */
async function chainRules(nft: Runner, chain: string): Promise<ChainRule[]> {
  const r = await nft.exec(["nft", "-j", "list", "chain", TABLE.family, TABLE.name, chain]);
  if (r.code !== 0) throw new Error(r.stderr.trim().split("\n")[0] || `nft exited ${r.code}`);
  const objects = (JSON.parse(r.stdout) as { nftables: { rule?: ChainRule }[] }).nftables;
  return objects.flatMap((o) => (o.rule ? [o.rule] : []));
}

/** The chains a rule's goto or jump statements name. */
function targets(rule: ChainRule): string[] {
  return (rule.expr ?? []).flatMap((s) => {
    const t = (s as { goto?: { target: string }; jump?: { target: string } }).goto ?? (s as { jump?: { target: string } }).jump;
    return t ? [t.target] : [];
  });
}

/** The DNAT target of an endpoint chain (ip:port), or null. */
function dnatTarget(rules: ChainRule[]): string | null {
  for (const r of rules) {
    for (const s of r.expr ?? []) {
      const d = (s as { dnat?: { addr?: string; port?: number } }).dnat;
      if (d?.addr) return d.port === undefined ? d.addr : `${d.addr}:${d.port}`;
    }
  }
  return null;
}

/** Reads the proxy's table on the source node for the traced key. */
async function readKernel(nft: Runner, clusterIP: string, protocol: TraceProtocol, dport: number | null): Promise<ProxyKernelFacts> {
  const present = await nft.exec(["nft", "list", "chain", TABLE.family, TABLE.name, "services"]);
  const tableError = present.code === 0 ? null : present.stderr.trim().split("\n")[0] || `nft exited ${present.code}`;
  if (tableError !== null) return { tableError, serviceVerdict: null, noEndpointVerdict: null, clusterIpListed: false, balance: null };
  const key = dport === null ? null : `${clusterIP} . ${protocol} . ${dport}`;
  const [serviceVerdict, noEndpointVerdict, listed] = await Promise.all([
    key === null ? null : getElement(nft, SET_SERVICE_IPS, key),
    key === null ? null : getElement(nft, SET_NO_ENDPOINT_SERVICES, key),
    getElement(nft, SET_CLUSTER_IPS, clusterIP),
  ]);
  let balance: ProxyKernelFacts["balance"] = null;
  const chain = serviceVerdict === null ? undefined : /^(?:goto|jump)\s+(\S+)/.exec(serviceVerdict)?.[1];
  const pick = chain === undefined ? null : /^pick-(?:cluster|local)-(tcp|udp|sctp)-([1-9][0-9]*)$/.exec(chain);
  if (pick && key !== null) {
    const map = endpointsSet(pick[1]!);
    const slots = Array.from({ length: Number(pick[2]) }, (_, slot) => slot);
    const endpoints = await Promise.all(slots.map(async (slot) => {
      const value = await getElement(nft, map, `${key} . ${slot}`);
      const [ip, port] = value === null ? [] : value.split(" . ");
      return { chain: `${map} slot ${slot}`, target: ip === undefined ? null : port === undefined ? ip : `${ip}:${port}` };
    }));
    balance = { chain: `${chain} (slots of ${map})`, endpoints, error: null };
  } else if (chain !== undefined) {
    try {
      const eps = [...new Set((await chainRules(nft, chain)).flatMap(targets).filter((t) => t.startsWith("ep-")))];
      const endpoints = await Promise.all(eps.map(async (ep) => ({ chain: ep, target: dnatTarget(await chainRules(nft, ep)) })));
      balance = { chain, endpoints, error: null };
    } catch (err) {
      balance = { chain, endpoints: [], error: (err as Error).message };
    }
  }
  return { tableError, serviceVerdict, noEndpointVerdict, clusterIpListed: listed !== null, balance };
}

/** Runs argv in `netns` with a deadline; never throws. */
function runIn(netns: string, argv: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("ip", ["netns", "exec", netns, ...argv], { timeout: timeoutMs, killSignal: "SIGKILL" }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : null, stdout, stderr });
    });
  });
}

/** One ping from the pod: a reply, an ICMP error (what ping says about it), or nothing. */
async function probePing(pod: TracedPod, ip: string): Promise<ProbeFacts> {
  const started = performance.now();
  const r = await runIn(pod.netns, ["ping", "-n", "-c", "1", "-W", "1", ip], 3000);
  const ms = Math.round(performance.now() - started);
  const error = /^From \S+ icmp_seq=\d+ (.+)$/m.exec(r.stdout)?.[1] ?? null;
  const outcome = r.code === 0 ? "reply" : error !== null ? "unreachable" : "none";
  return { kind: "ping", outcome, ms, localPort: null, detail: error, conntrack: null, conntrackError: null };
}

/** One connection (TCP) or datagram (UDP) from the pod, and its conntrack entry on the node. */
async function probeConnect(pod: TracedPod, node: Runner, protocol: "tcp" | "udp", ip: string, port: number): Promise<ProbeFacts> {
  const got = await runProbe(pod.netns, protocol, ip, port, protocol === "tcp" ? PROBE_TIMEOUT_MS : UDP_WAIT_MS);
  const probe: ProbeFacts = { kind: "connect", outcome: got.outcome, ms: got.ms, localPort: got.localPort, detail: got.error, conntrack: null, conntrackError: null };
  if (got.localPort === null) return probe;
  const ct = await node.exec(["conntrack", "-L", "-p", protocol, "--orig-src", pod.ip, "--orig-dst", ip, "--orig-port-src", String(got.localPort), "--orig-port-dst", String(port)]);
  if (ct.code !== 0) probe.conntrackError = ct.stderr.trim().split("\n")[0] || `conntrack exited ${ct.code}`;
  else probe.conntrack = parseConntrackReply(ct.stdout);
  return probe;
}

/**
 * The reply source of the first entry of `conntrack -L` output: each line
 * holds the original tuple's src= dst= sport= dport= and then the reply
 * tuple's; the reply comes from the endpoint DNAT chose.
 */
export function parseConntrackReply(text: string): { endpoint: string; entry: string } | null {
  const line = text.split("\n").find((l) => /\bsrc=/.test(l));
  if (line === undefined) return null;
  const src = [...line.matchAll(/\bsrc=(\S+)/g)].map((m) => m[1]!);
  const sport = [...line.matchAll(/\bsport=(\d+)/g)].map((m) => m[1]!);
  if (src.length < 2) return null;
  return { endpoint: sport.length >= 2 ? `${src[1]}:${sport[1]}` : src[1]!, entry: line.trim().replace(/\s+/g, " ") };
}

/** Reads every fact of the trace from `input.from` to the Service `input.ref` names. */
export async function readServiceFacts(input: ServiceInput): Promise<ServiceFacts> {
  const { service, clusterIP, slices } = await readService(input);
  const { port, dport, protocol } = pickPort(service, input.ref, input.protocol);
  let nodePodCidr = input.podCidr;
  try {
    nodePodCidr = formatPrefix(readSubnetFile(input.node.subnetFile).subnet);
  } catch {
    // Only externalTrafficPolicy Local depends on it; the service's own endpoints do not.
  }
  const plan = port === null ? null : planService({ ...service, ports: [port] }, slices, { nodeName: input.node.name, nodePodCidr, clusterCidr: input.podCidr, serviceCidr: SERVICE_CIDR });
  const nft = createRunner(input.node.netns);
  const kernel = await readKernel(nft, clusterIP, protocol, dport);
  let probe: ProbeFacts | null = null;
  if (protocol === "icmp") probe = await probePing(input.from, clusterIP);
  else if (protocol !== "sctp" && dport !== null) probe = await probeConnect(input.from, nft, protocol, clusterIP, dport);
  return {
    lab: input.lab,
    from: input.from,
    service,
    slices,
    clusterIP,
    protocol,
    port,
    dport,
    expected: plan?.ports[0] ?? null,
    node: { name: input.node.name, netns: input.node.netns },
    kernel,
    probe,
  };
}
