/**
 * `service-proxy`: where weft's service proxy runs (the agent's /services
 * answers) or has left its table, the table `ip weft-proxy` must be there
 * and hold what the Services and EndpointSlices ask for. The expected
 * state is the proxy's own plan (proxy/plan.ts) over the API's objects with
 * this node's facts, so doctor and the proxy agree by construction:
 *
 *   - every key of the four verdict maps (service-ips, service-nodeports
 *     and their no-endpoint twins), against the table's elements: a key
 *     missing or left over means the kernel is behind the API;
 *   - every service port's endpoints, against what the agent says it
 *     programmed (/services): the agent behind the API.
 *
 * Without the API (no --lab or --kubeconfig) the table is compared with
 * the agent's own view only. A proxy that has not synced yet is a warning.
 */
import type { ServicesStatus } from "../../agent/api.ts";
import { elementKeyText, splitElements } from "../../kernel/nft/objects.ts";
import { planProxy, TABLE, type ProxyPlan } from "../../proxy/plan.ts";
import type { EndpointSlice } from "../../proxy/types.ts";
import { valueOf, type NodeFacts } from "../facts.ts";
import { fail, listing, ok, STALE, warn, type Check, type Finding } from "../finding.ts";
import { parsedSubnetFile } from "../subnet-file.ts";
import { PROXY_MAPS } from "../proxy-facts.ts";
import { formatPrefix } from "../../lib/ipv4.ts";

const CHECK = "service-proxy";
const TABLE_NAME = `${TABLE.family} ${TABLE.name}`;
/** The agent's serviceCidr default; only the drop of unallocated addresses depends on it, which doctor does not compare. */
const SERVICE_CIDR = "10.96.0.0/12";

const few = (items: readonly string[]) => (items.length > 3 ? `${listing(items.slice(0, 3))} and ${items.length - 3} more` : listing(items));

/** `service-ips|10.96.0.40 . tcp . 80` → `10.96.0.40:80/TCP (no-endpoint: refused)`-style text for messages. */
function describeElement(e: string): string {
  const [map, key] = e.split("|") as [string, string];
  const parts = key.split(" . ");
  const addr = parts.length === 3 ? `${parts[0]}:${parts[2]}/${parts[1]!.toUpperCase()}` : `NodePort ${parts[1]}/${parts[0]!.toUpperCase()}`;
  return map.startsWith("no-endpoint") ? `${addr} (refused)` : addr;
}

/** The verdict-map elements the plan puts in the kernel, as `map|key` (the maps proxy-facts.ts reads). */
function planElements(plan: ProxyPlan): string[] {
  const out: string[] = [];
  for (const f of plan.fragments.values()) {
    for (const [set, elements] of f.elements) if (PROXY_MAPS.includes(set)) for (const e of splitElements(elements)) out.push(`${set}|${elementKeyText(e)}`);
  }
  return out.sort();
}

/** The node facts the proxy plans with: from the agent, or, when it does not answer, from its subnet file (the node's name is the lab's or the agent's). */
function planFacts(node: NodeFacts): { nodeName: string; nodePodCidr: string; clusterCidr: string } | undefined {
  const status = valueOf(node.agent.status);
  if (status?.subnet) return { nodeName: status.node, nodePodCidr: status.subnet, clusterCidr: status.network };
  const file = valueOf(parsedSubnetFile(node));
  return file ? { nodeName: node.name, nodePodCidr: formatPrefix(file.subnet), clusterCidr: formatPrefix(file.network) } : undefined;
}

/** Where the service proxy does not run, says so (or that its table was left behind). */
function proxyOff(node: NodeFacts, error: string): Finding[] {
  const table = valueOf(node.kernel.proxyTable);
  if (!/runs no service proxy/.test(error)) {
    // The agent does not answer: the agent check says so. A table it left is still compared below by the caller.
    return [];
  }
  if (table) {
    return [warn(node, CHECK, `the service proxy does not run here, but table ${TABLE_NAME} is left with ${table.elements.length} service elements: it still translates Services, and nothing keeps it current`, `${node.onNode(`nft delete table ${TABLE_NAME}`)} (or weft agent --cleanup), unless the proxy is meant to run: set "serviceProxy": true in weft-config`)];
  }
  return [ok(node, CHECK, "the service proxy does not run here (serviceProxy off); in a cluster, kube-proxy or another proxy serves Services")];
}

export const checkServiceProxy: Check = (node, cluster) => {
  const services = node.agent.services;
  const table = node.kernel.proxyTable;
  const repair = `the agent repairs the table within a second of a change it did not make; if it stays wrong, restart the agent and read its log (${node.agentLog})`;
  if (!services.ok) {
    const off = proxyOff(node, services.error);
    if (off.length || !valueOf(table)) return off;
  }
  if (!table.ok) return [fail(node, CHECK, `cannot read table ${TABLE_NAME}: ${table.error}`, "install nftables and run weft doctor as root")];
  const status: ServicesStatus | undefined = valueOf(services);
  if (status && !status.synced) {
    return [warn(node, CHECK, "the service proxy has not synced yet: it programs nothing until Services and EndpointSlices are both listed", `read the agent's log (${node.agentLog}) for informer failures; the agent's service account needs list and watch on services and endpointslices`)];
  }
  if (table.value === null) {
    return [fail(node, CHECK, `table ${TABLE_NAME} is missing although the service proxy runs: ClusterIPs and NodePorts of ${status?.ports.length ?? "all"} service ports answer nothing`, repair)];
  }
  const have = table.value.elements;
  const api = cluster.kubernetes?.ok ? cluster.kubernetes.value : undefined;
  const facts = planFacts(node);
  if (api && facts) {
    const slices = new Map<string, EndpointSlice[]>();
    for (const s of api.slices) {
      const k = `${s.namespace}/${s.service}`;
      slices.set(k, [...(slices.get(k) ?? []), s]);
    }
    const plan = planProxy(api.services, slices, { ...facts, serviceCidr: SERVICE_CIDR });
    const want = planElements(plan);
    const missing = want.filter((e) => !have.includes(e)).map(describeElement);
    const extra = have.filter((e) => !want.includes(e)).map(describeElement);
    const problems = [missing.length ? `missing ${few(missing)}` : "", extra.length ? `left over ${few(extra)}` : ""].filter(Boolean);
    if (status) {
      const programmed = new Map(status.ports.map((p) => [p.id, [...p.endpoints].sort().join(",")]));
      const behind: string[] = [];
      for (const f of plan.fragments.values()) {
        for (const p of f.ports) {
          const got = programmed.get(p.id);
          if (got !== undefined && got !== [...p.endpoints].sort().join(",")) behind.push(`${p.id} (${got || "none"} programmed, ${p.endpoints.join(",") || "none"} in the API)`);
        }
      }
      if (behind.length) problems.push(`endpoints behind the API for ${few(behind)}`);
    }
    if (problems.length) return [fail(node, CHECK, `table ${TABLE_NAME} ${STALE}, behind the Services and EndpointSlices: ${problems.join("; ")}`, repair)];
    const ports = [...plan.fragments.values()].reduce((n, f) => n + f.ports.length, 0);
    return [ok(node, CHECK, `table ${TABLE_NAME} matches the API: ${ports} service ports, ${want.length} map elements${status ? "" : " (the agent does not answer; the table is what it left)"}`)];
  }
  if (!status) return [];
  // No API: the table against the agent's own view of what it programmed.
  const want = status.ports.flatMap((p) => p.destinations.filter((d) => !d.startsWith("*:")).map((d) => `${d}/${p.protocol}`));
  const got = new Set(have.filter((e) => /^(service-ips|no-endpoint-services)\|/.test(e)).map((e) => describeElement(e).replace(" (refused)", "")));
  const missing = want.filter((d) => !got.has(d));
  if (missing.length) return [fail(node, CHECK, `table ${TABLE_NAME} ${STALE}: the agent programmed ${few(missing)}, which the table lacks`, repair)];
  return [ok(node, CHECK, `table ${TABLE_NAME} holds the agent's ${status.ports.length} service ports (give doctor --kubeconfig to compare with the API)`)];
};
