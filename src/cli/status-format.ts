/**
 * The text `weft status` prints: a summary per node in the manner of
 * `weave status`, and the peers, ipam and connections tables. Pure functions
 * of what the agents answered, so tests feed them hand-made reports.
 * `withNode` (set by --lab) adds a NODE column naming the agent asked.
 */
import type { ServicesStatus } from "../agent/api.ts";
import { missingReadiness } from "../agent/api.ts";
import type { IpamUsage } from "../agent/ipam-usage.ts";
import type { AgentStatus, ConnectionStatus } from "../agent/status.ts";
import { formatTable } from "../lab/table.ts";
import { WeftError } from "../lib/errors.ts";

/** A node's IPAM: its usage, the error reading it, or null while it holds no subnet. */
export type IpamAnswer = IpamUsage | WeftError | null;

/** `weft status`: one node's summary; `now` (ms) dates the lease expiry. */
export function formatSummary(s: AgentStatus, ipam: IpamAnswer, now: number): string {
  const missing = missingReadiness(s.readiness);
  const peerProblems = s.peers.filter((p) => p.state === "problem");
  const problems = [
    ...peerProblems.map((p) => (p.problem ? `${p.node}: ${p.problem.code}: ${p.problem.message}` : `${p.node}: problem`)),
    // Stale kernel entries that would not go are problems without a peer.
    ...s.reconcile.lastProblems.filter((p) => !s.peers.some((peer) => peer.node === p.peer)).map((p) => `${p.peer}: ${p.code}: ${p.message}`),
  ];
  const r = s.reconcile;
  const rows: Array<[string, string, ...string[]]> = [
    ["Node", s.node],
    ["Version", `${s.version} (pid ${s.pid}, started ${s.startedAt})`],
    ["Ready", s.ready && missing.length === 0 ? "yes" : `no${missing.length > 0 ? ` (missing: ${missing.join(", ")})` : ""}`],
    ["Network", s.network],
    ["Subnet", s.subnet === null ? "none leased yet" : `${s.subnet} (gateway ${s.gateway ?? "-"})`],
    ["Public IP", `${s.publicIp} on ${s.underlay.name} (MTU ${s.underlay.mtu})`],
    ["Backend", `${s.backend} (pod MTU ${s.mtu ?? "not set up yet"})`],
    ["IP masq", s.ipMasq ? "yes" : "no"],
    ["Store", `${s.store.name} at ${s.store.location} (${s.store.healthy ? "healthy" : "unhealthy"})`, ...(s.store.lastError === null ? [] : [`last error: ${s.store.lastError}`])],
    ["Lease", s.leaseExpiresAt === null ? "none" : `expires ${new Date(s.leaseExpiresAt).toISOString()} (${relative(s.leaseExpiresAt - now)})`],
    ["Peers", `${s.peers.length - peerProblems.length} programmed, ${peerProblems.length} with problems`, ...problems],
    ["IPAM", ipamSummary(ipam)],
    ["Reconciles", `${r.runs} runs, ${r.failures} failures${r.lastAt === null ? "" : `, last at ${r.lastAt} took ${r.lastDurationMs ?? "?"} ms`}`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows
    .flatMap(([label, first, ...more]) => [`${label.padStart(width)}: ${first}`, ...more.map((m) => `${" ".repeat(width + 2)}  ${m}`)])
    .join("\n")
    .concat("\n");
}

/** `weft status peers`: each asked node first as `self`, then its peers; problem messages below. */
export function formatPeers(statuses: readonly AgentStatus[], withNode: boolean): string {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const s of statuses) {
    const from = withNode ? [s.node] : [];
    rows.push([...from, s.node, s.publicIp, s.subnet ?? "<none>", s.backend, "self"]);
    for (const p of s.peers) {
      rows.push([...from, p.node, p.publicIp, p.subnet, p.backend, p.state === "problem" ? `problem: ${p.problem?.code ?? "?"}` : p.state]);
      if (p.problem) notes.push(`${withNode ? `${s.node} -> ` : ""}${p.node}: ${p.problem.message}`);
    }
  }
  const headers = [...(withNode ? ["NODE", "PEER"] : ["NODE"]), "PUBLIC IP", "SUBNET", "BACKEND", "STATE"];
  return formatTable(headers, rows) + notesBlock(notes);
}

/**
 * `weft status ipam`: every asked node's subnet with its real numbers. On a
 * single node (not `withNode`) the peers follow with `-`: their stores live
 * on their own nodes.
 */
export function formatIpam(nodes: ReadonlyArray<{ status: AgentStatus; ipam: IpamAnswer }>, withNode: boolean): string {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const { status, ipam } of nodes) {
    if (ipam instanceof WeftError) notes.push(`${status.node}: ${ipam.message}`);
    const usage = ipam instanceof WeftError ? null : ipam;
    rows.push([
      status.node,
      status.subnet ?? "<none>",
      usage ? String(usage.used) : "-",
      usage ? String(usage.free) : "-",
      usage && usage.pods.length > 0 ? usage.pods.map((p) => p.pod ?? p.containerId.slice(0, 12)).join(",") : "-",
    ]);
    if (!withNode) for (const p of status.peers) rows.push([p.node, p.subnet, "-", "-", "-"]);
  }
  return formatTable(["NODE", "SUBNET", "USED", "FREE", "PODS"], rows) + notesBlock(notes);
}

/** `weft status connections`: one row per (asked node,) peer; errors below. */
export function formatConnections(nodes: ReadonlyArray<{ node: string; connections: readonly ConnectionStatus[] }>, withNode: boolean): string {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const { node, connections } of nodes) {
    for (const c of connections) {
      rows.push([
        ...(withNode ? [node] : []),
        c.node,
        c.publicIp,
        c.target,
        c.reachable ? "reachable" : "unreachable",
        c.rttMs === null ? "-" : `${Number(c.rttMs.toPrecision(2))}ms`,
        c.reachable ? `${c.mtu} ${c.mtuOk ? "ok" : "too big"}` : "-",
      ]);
      if (c.error !== null) notes.push(`${withNode ? `${node} -> ` : ""}${c.node}: ${c.error}`);
    }
  }
  return formatTable([...(withNode ? ["NODE"] : []), "PEER", "PUBLIC IP", "TARGET", "STATE", "RTT", "MTU"], rows) + notesBlock(notes);
}

/** "in 23h59m" or "expired 5m0s ago" for a time `ms` from now. */
export function relative(ms: number): string {
  return ms >= 0 ? `in ${duration(ms)}` : `expired ${duration(-ms)} ago`;
}

/** The two largest units of a duration: 2d3h, 23h59m, 5m3s, 42s. */
function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const [d, h, m, sec] = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60, s % 60];
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${m}m`;
  if (m > 0) return `${m}m${sec}s`;
  return `${sec}s`;
}

function ipamSummary(ipam: IpamAnswer): string {
  if (ipam === null) return "- (no subnet yet)";
  if (ipam instanceof WeftError) return `unavailable: ${ipam.message}`;
  return `${ipam.used} used, ${ipam.free} free of ${ipam.capacity} in ${ipam.subnet}`;
}

function notesBlock(notes: readonly string[]): string {
  return notes.length === 0 ? "" : `\n${notes.join("\n")}\n`;
}

/**
 * `weft status services`: one row per programmed service port and where
 * its clients go: FORWARD (to ENDPOINTS, LOCAL of them on this node),
 * REJECT (no endpoint: connections are refused at once) or DROP.
 */
export function formatServices(nodes: ReadonlyArray<{ node: string; services: ServicesStatus }>, withNode: boolean): string {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const { node, services } of nodes) {
    for (const p of [...services.ports].sort((a, b) => a.id.localeCompare(b.id))) {
      const [namespace, name, , portName] = p.id.split("/");
      rows.push([
        ...(withNode ? [node] : []),
        `${namespace}/${name}${portName ? `:${portName}` : ""}`,
        p.protocol.toUpperCase(),
        p.destinations.join(",") || "-",
        String(p.endpoints.length),
        String(p.localEndpoints.length),
        p.external === "none" || p.external === p.internal ? p.internal.toUpperCase() : `${p.internal.toUpperCase()} (external ${p.external.toUpperCase()})`,
      ]);
    }
    const who = withNode ? `${node}: ` : "";
    if (!services.synced) notes.push(`${who}not synced yet: the proxy programs nothing until Services and EndpointSlices are both listed`);
    else if (services.lastSync) notes.push(`${who}last sync ${services.lastSync.kind} at ${services.lastSync.at}, ${services.lastSync.durationMs.toFixed(1)} ms, ${services.lastSync.changes} nft lines`);
  }
  return formatTable([...(withNode ? ["NODE"] : []), "SERVICE", "PROTO", "DESTINATIONS", "ENDPOINTS", "LOCAL", "CLIENTS GET"], rows) + notesBlock(notes);
}
