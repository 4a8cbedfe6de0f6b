/**
 * The service part of a trace, a pure function of the facts (facts.ts):
 *
 *   api      service      the Service and the port traced
 *   api      endpoints    its EndpointSlices' endpoints for that port
 *   NODE     proxy map    the traced key in table ip weft-proxy: service-ips
 *                         (DNAT), no-endpoint-services (refused), neither
 *                         (an undefined port, or ICMP: the post-DNAT check
 *                         rejects what still goes to a ClusterIP)
 *   NODE     endpoints    the chain the map sends to and the endpoints it
 *                         chooses among (numgen), against the API's
 *   NODE     probe        what one connection (or ping) from the pod got,
 *                         and from conntrack the endpoint the kernel chose
 *
 * and the verdict: dnat (to an endpoint, whose pod-to-pod path follows),
 * refused, dropped or no reply (ICMP).
 */
import { broken, ok, type Hop } from "../hop.ts";
import type { ServiceFacts } from "./facts.ts";

/** What happens to the traced packet at the service step. */
export type ServiceVerdict = "dnat" | "refused" | "dropped" | "no-reply";

/** The endpoint the packet goes to after DNAT, and how trace knows it. */
export interface ChosenEndpoint {
  ip: string;
  port: number | null;
  /** `conntrack`: read from the probe's conntrack entry; `only`: the one endpoint there is; `first`: not observed (no probe), the first of the chain's. */
  chosenBy: "conntrack" | "only" | "first";
}

/** The service steps, the verdict and the endpoint (for dnat). */
export interface ServiceSteps {
  hops: Hop[];
  verdict: ServiceVerdict;
  endpoint: ChosenEndpoint | null;
  /** One line saying what the client sees, for the report's last line. */
  summary: string;
}

const WHY_NO_PING = "a Service IP is translated (DNAT) for TCP, UDP and SCTP only: the proxy's maps are keyed by address . protocol . port, and an ICMP echo has no port";

/** `a:1, b:2 and 3 more`. */
function few(items: readonly string[], n = 4): string {
  if (items.length === 0) return "none";
  return items.length <= n ? items.join(", ") : `${items.slice(0, n).join(", ")} and ${items.length - n} more`;
}

function splitTarget(target: string): { ip: string; port: number | null } {
  const [ip, port] = target.split(":");
  return { ip: ip!, port: port === undefined ? null : Number(port) };
}

/** The service steps of `f`. */
export function serviceSteps(f: ServiceFacts): ServiceSteps {
  const key = `${f.service.namespace}/${f.service.name}`;
  const node = f.node.name;
  const proto = f.protocol.toUpperCase();
  const target = f.dport === null ? f.clusterIP : `${f.clusterIP}:${f.dport}/${proto}`;
  const kubectl = `weft lab kubectl --name ${f.lab} --`;
  const agentLog = `the agent's log on ${node} (${kubectl} logs -n kube-system -l app=weft)`;
  const hops: Hop[] = [];
  const ports = f.service.ports.map((p) => `${p.name ? `${p.name} ` : ""}${p.port}/${p.protocol}`);

  // 1. The Service and the port.
  if (f.protocol === "icmp") {
    hops.push(ok("api", "service", `${key} ${f.service.type} ${f.clusterIP}, ports ${few(ports)}; an ICMP echo names no port`));
  } else if (f.port === null) {
    hops.push(broken("api", "service", `${key} ${f.service.type} ${f.clusterIP}: ports ${few(ports)}`, `port ${f.dport}/${proto}: the Service does not define it`, `use one of its ports: weft trace ${f.from.name} ${key}:${f.service.ports[0]?.port ?? "PORT"}`));
  } else {
    const p = f.port;
    hops.push(ok("api", "service", `${key} ${f.service.type} ${f.clusterIP}, port ${p.name ? `${p.name} ` : ""}${p.port}/${p.protocol} → targetPort ${p.targetPort}`));
  }

  // 2. The endpoints the API has for the port.
  const expected = f.expected;
  if (expected !== null) {
    const all = f.slices.flatMap((s) => s.endpoints);
    const notReady = all.filter((e) => !e.ready).map((e) => e.address);
    const where = (ep: string) => {
      const e = all.find((x) => x.address === ep.split(":")[0]);
      return e?.nodeName ? `${ep} (${e.nodeName})` : ep;
    };
    const usable = f.service.internalTrafficPolicy === "Local" ? expected.localEndpoints : expected.endpoints;
    const extra = notReady.length ? `; not ready: ${few(notReady)}` : "";
    if (usable.length === 0) {
      const why = all.length === 0 ? `no EndpointSlice of ${key} lists an endpoint` : f.service.internalTrafficPolicy === "Local" && expected.endpoints.length > 0 ? `internalTrafficPolicy Local and no ready endpoint on ${node}` : "none of its endpoints is ready";
      hops.push(broken("api", "endpoints", `${why}${extra}`, `a ready endpoint for ${target}`, `check that the Service's selector matches running, ready pods: ${kubectl} get pods -n ${f.service.namespace} -o wide, and ${kubectl} get endpointslices -n ${f.service.namespace} -l kubernetes.io/service-name=${f.service.name}`));
    } else {
      hops.push(ok("api", "endpoints", `${usable.length} usable: ${few(usable.map(where))}${extra}`));
    }
  }

  // 3. The proxy's map on the source node.
  const k = f.kernel;
  const table = "table ip weft-proxy";
  if (k.tableError !== null) {
    hops.push(broken(node, "proxy map", `${table} is not there (${k.tableError})`, `weft's service proxy on ${node}: nothing translates ${target}`, `turn the proxy on ("serviceProxy": true in ConfigMap kube-system/weft-config, then kubectl -n kube-system rollout restart daemonset/weft), or, if kube-proxy serves this cluster, trace with its tools; read ${agentLog}`));
    return { hops, verdict: "dropped", endpoint: null, summary: `nothing on ${node} translates ${target}` };
  }
  const elementKey = f.dport === null ? f.clusterIP : `${f.clusterIP} . ${f.protocol} . ${f.dport}`;
  if (f.protocol === "icmp") {
    const found = k.clusterIpListed
      ? `no DNAT: ${WHY_NO_PING}; set cluster-ips holds ${f.clusterIP}, so the post-DNAT check rejects the echo (ICMP port unreachable)`
      : `no DNAT: ${WHY_NO_PING}; ${f.clusterIP} is not in set cluster-ips, so the echo is dropped with the rest of the service CIDR`;
    hops.push(broken(node, "proxy map", found, "an echo reply: a Service IP never answers ping, by design", `test the Service with TCP or UDP (weft trace ${f.from.name} ${key}:PORT), or ping an endpoint pod itself`));
    hops.push(probeHop(f));
    return { hops, verdict: "no-reply", endpoint: null, summary: `ping ${f.clusterIP} gets no echo reply: ${WHY_NO_PING}${k.clusterIpListed ? "; the proxy answers it with ICMP port unreachable" : ""}` };
  }
  if (k.serviceVerdict === null) {
    if (k.noEndpointVerdict !== null) {
      const rejects = k.noEndpointVerdict.includes("reject");
      const why = rejects ? "no endpoint at all: the packet is refused (TCP reset, ICMP port unreachable otherwise), so connect() fails at once with ECONNREFUSED" : "endpoints exist, none for this traffic's policy: the packet is dropped";
      const agrees = f.port !== null && expected !== null && (expected.internal === "reject") === rejects;
      hops.push(broken(node, "proxy map", `no-endpoint-services: ${elementKey} → ${k.noEndpointVerdict}: ${why}`, `a ready endpoint for ${target}`, agrees ? `give the Service a ready endpoint (a pod its selector matches that passes its readiness probe)` : `the proxy is behind the API, which has endpoints for it: read ${agentLog}`));
      hops.push(probeHop(f));
      return { hops, verdict: rejects ? "refused" : "dropped", endpoint: null, summary: rejects ? `${target} is refused: ${key} has no ready endpoint; connect() gets ECONNREFUSED at once` : `${target} is dropped: no endpoint for this traffic's policy` };
    }
    if (k.clusterIpListed) {
      const defined = f.port !== null;
      hops.push(broken(node, "proxy map", `${elementKey} is in neither service-ips nor no-endpoint-services; ${f.clusterIP} is in set cluster-ips, so the post-DNAT check rejects the packet (TCP reset / ICMP port unreachable)`,
        defined ? `the element for ${target}: the proxy has not programmed this port` : `port ${f.dport}/${proto} on ${key}: connect() gets ECONNREFUSED, as for any port a Service does not define`,
        defined ? `the agent adds it on its next sync; if it stays missing, read ${agentLog}` : `use one of its ports: ${few(ports)}`));
      hops.push(probeHop(f));
      return { hops, verdict: "refused", endpoint: null, summary: defined ? `${target} is refused: the proxy on ${node} has not programmed it` : `${target} is refused: ${key} has no port ${f.dport}/${proto}; connect() gets ECONNREFUSED` };
    }
    hops.push(broken(node, "proxy map", `${table} knows nothing of ${f.clusterIP}: not in service-ips, no-endpoint-services or cluster-ips`, `the proxy's elements for ${key}: the proxy is behind the API`, `read ${agentLog}; restarting the agent rebuilds the table`));
    hops.push(probeHop(f));
    return { hops, verdict: "dropped", endpoint: null, summary: `${target} is dropped: the proxy on ${node} has not programmed ${key}` };
  }
  hops.push(ok(node, "proxy map", `service-ips: ${elementKey} → ${k.serviceVerdict}`));

  // 4. The chain's endpoints against the API's.
  const b = k.balance;
  const programmed = b?.endpoints.map((e) => e.target ?? `${e.chain} (nothing to DNAT to)`) ?? [];
  if (b === null || b.error !== null) {
    hops.push(broken(node, "endpoints", `cannot list chain ${b?.chain ?? "?"}: ${b?.error ?? "no chain named"}`, "the chain the map sends to", `read ${agentLog}; restarting the agent rebuilds the table`));
  } else {
    const want = expected === null ? programmed : f.service.internalTrafficPolicy === "Local" ? expected.localEndpoints : expected.endpoints;
    const missing = want.filter((e) => !programmed.includes(e));
    const stale = programmed.filter((e) => !want.includes(e));
    const share = programmed.length > 1 ? `numgen random, 1/${programmed.length} each` : "the only one";
    const found = `${b.chain} → ${few(programmed)} (${share})`;
    if (programmed.length === 0 || missing.length || stale.length) {
      const diff = [missing.length ? `missing ${few(missing)}` : "", stale.length ? `no longer in the API: ${few(stale)}` : ""].filter(Boolean).join("; ");
      hops.push(broken(node, "endpoints", found, diff || "an endpoint chain", `the proxy is behind the API; it catches up within a second of a change, so if this stays, read ${agentLog}`));
    } else {
      hops.push(ok(node, "endpoints", `${found}, as the API says`));
    }
  }

  // 5. The probe and the endpoint the kernel chose.
  hops.push(probeHop(f));
  const seen = f.probe?.conntrack?.endpoint;
  let endpoint: ChosenEndpoint | null = null;
  if (seen !== undefined) endpoint = { ...splitTarget(seen), chosenBy: "conntrack" };
  else if (programmed.length === 1) endpoint = { ...splitTarget(programmed[0]!), chosenBy: "only" };
  else if (programmed.length > 1) endpoint = { ...splitTarget(programmed[0]!), chosenBy: "first" };
  const to = endpoint === null ? "no endpoint" : `${endpoint.ip}${endpoint.port === null ? "" : `:${endpoint.port}`}`;
  return { hops, verdict: "dnat", endpoint, summary: `${target} is translated to ${to}` };
}

/** The probe's hop: what the pod's connection (or ping) got and, from conntrack, where the kernel sent it. */
function probeHop(f: ServiceFacts): Hop {
  const node = f.node.name;
  const p = f.probe;
  const target = f.dport === null ? f.clusterIP : `${f.clusterIP}:${f.dport}`;
  if (p === null) return ok(node, "probe", `not probed (${f.protocol.toUpperCase()}): trace sends TCP, UDP and ping only; numgen picks an endpoint per connection`);
  const ms = p.ms === null ? "" : ` in ${p.ms} ms`;
  if (p.kind === "ping") {
    const what = p.outcome === "reply" ? `an echo reply${ms}` : p.outcome === "unreachable" ? `"${p.detail}"${ms}, no echo reply` : "nothing within 1 s";
    return ok(node, "probe", `ping -c 1 ${f.clusterIP} from pod ${f.from.name} got ${what}`);
  }
  const from = `${f.protocol.toUpperCase()} from ${f.from.name}${p.localPort === null ? "" : `:${p.localPort}`}`;
  const outcome: Record<string, string> = {
    connected: `connected${ms}`, answered: `answered${ms}`, sent: "sent (UDP: no answer, no refusal)",
    refused: `refused${ms} (ECONNREFUSED)`, timeout: `no answer${ms} (timeout)`, error: `failed${ms}: ${p.detail}`,
  };
  const said = outcome[p.outcome] ?? p.outcome;
  const ct = p.conntrack
    ? `; conntrack on ${node}: DNAT to ${p.conntrack.endpoint} (the endpoint the kernel chose)`
    : p.conntrackError !== null ? `; conntrack not read: ${p.conntrackError}` : p.localPort === null ? "" : `; conntrack on ${node} holds no entry for it`;
  const line = `${from} → ${target}: ${said}${ct}`;
  if (p.outcome === "timeout" && p.conntrack) {
    return broken(node, "probe", line, `an answer from ${p.conntrack.endpoint}`, "the DNAT happened; follow the path to the endpoint below for where the packet stops");
  }
  return ok(node, "probe", line);
}
