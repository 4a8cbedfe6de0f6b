/**
 * Stale UDP conntrack entries. UDP has no connection end, so a client that
 * keeps its source port keeps its conntrack entry, and with it the backend
 * the first packet was DNATed to, until 30 s (or 120 s once the flow was
 * seen both ways) pass without a packet. Two cases break such a client:
 *
 *   - its backend went away: the entry still sends it there;
 *   - it sent while the service had no endpoint and the packet was not
 *     refused early (the service appeared later, or was dropped by policy):
 *     the entry holds "no NAT" for the flow.
 *
 * After each sync the proxy compares the UDP ports of the previous and the
 * new plan and deletes exactly those entries with the `conntrack` tool, in
 * the proxy's namespace: entries to a service destination whose reply comes
 * from a removed endpoint, and un-NATed entries to a destination that had
 * no endpoint and now has one.
 *
 * A full sync (start, periodic resync) has no previous plan to trust, so it
 * lists the UDP entries once and deletes each one addressed to a service IP
 * and port whose reply does not come from one of that port's endpoints
 * (NodePorts are left to the incremental path and the timeout).
 */
import { runConntrackDeletes } from "../kernel/conntrack.ts";
import type { Runner } from "../kernel/runner.ts";
import type { PortPlan } from "./plan.ts";

/** One `conntrack -D` filter. */
export interface StaleFlow {
  /** A service IP, or undefined for a NodePort on any local address. */
  ip?: string;
  port: number;
  /** The backend replies come from (`ip:port`), or undefined for flows that were not NATed. */
  endpoint?: string;
  /** One client's flow exactly (from a listing), instead of a reply filter. */
  client?: { ip: string; port: number };
}

/** The flows to delete when UDP ports change from `before` to `after` (same port ids). */
export function staleUdpFlows(before: readonly PortPlan[], after: readonly PortPlan[]): StaleFlow[] {
  const now = new Map(after.map((p) => [p.id, p]));
  const out: StaleFlow[] = [];
  for (const p of before) {
    if (p.protocol !== "UDP") continue;
    const n = now.get(p.id);
    const kept = new Set(n?.endpoints ?? []);
    const gone = p.endpoints.filter((e) => !kept.has(e));
    for (const d of p.destinations) for (const e of gone) out.push({ ...destination(d), endpoint: e });
  }
  const was = new Map(before.map((p) => [p.id, p]));
  for (const p of after) {
    if (p.protocol !== "UDP" || p.endpoints.length === 0) continue;
    if ((was.get(p.id)?.endpoints.length ?? 0) > 0) continue;
    for (const d of p.destinations) out.push(destination(d));
  }
  return out;
}

function destination(d: string): { ip?: string; port: number } {
  const i = d.lastIndexOf(":");
  const ip = d.slice(0, i);
  return ip === "*" ? { port: Number(d.slice(i + 1)) } : { ip, port: Number(d.slice(i + 1)) };
}

/** One UDP conntrack entry: the original direction and where replies come from. */
export interface UdpEntry {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  replySrc: string;
  replySport: number;
}

/** Parses `conntrack -L -p udp` output (the default text format); lines it cannot read are skipped. */
export function parseUdpEntries(text: string): UdpEntry[] {
  const out: UdpEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("udp")) continue;
    const src = [...line.matchAll(/\bsrc=(\S+)/g)].map((m) => m[1]!);
    const dst = [...line.matchAll(/\bdst=(\S+)/g)].map((m) => m[1]!);
    const sport = [...line.matchAll(/\bsport=(\d+)/g)].map((m) => Number(m[1]));
    const dport = [...line.matchAll(/\bdport=(\d+)/g)].map((m) => Number(m[1]));
    if (src.length < 2 || dst.length < 1 || sport.length < 2 || dport.length < 1) continue;
    out.push({ src: src[0]!, dst: dst[0]!, sport: sport[0]!, dport: dport[0]!, replySrc: src[1]!, replySport: sport[1]! });
  }
  return out;
}

/** The listed entries that go to a UDP service IP and port but not to one of its endpoints. */
export function staleListedFlows(entries: readonly UdpEntry[], ports: readonly PortPlan[]): StaleFlow[] {
  const endpointsOf = new Map<string, Set<string>>();
  for (const p of ports) {
    if (p.protocol !== "UDP" || p.endpoints.length === 0) continue;
    for (const d of p.destinations) if (!d.startsWith("*:")) endpointsOf.set(d, new Set(p.endpoints));
  }
  const out: StaleFlow[] = [];
  for (const e of entries) {
    const eps = endpointsOf.get(`${e.dst}:${e.dport}`);
    if (eps && !eps.has(`${e.replySrc}:${e.replySport}`)) out.push({ ip: e.dst, port: e.dport, client: { ip: e.src, port: e.sport } });
  }
  return out;
}

/** Lists the namespace's UDP conntrack entries. */
export async function listUdpEntries(runner: Runner): Promise<UdpEntry[]> {
  const r = await runner.exec(["conntrack", "-L", "-p", "udp"]);
  if (r.code !== 0) throw new Error(`conntrack -L -p udp failed: ${r.stderr.trim() || `exit status ${r.code}`}`);
  return parseUdpEntries(r.stdout);
}

/** The `conntrack -D` argv for one stale flow. */
export function conntrackDeleteArgv(f: StaleFlow): string[] {
  const argv = ["conntrack", "-D", "-p", "udp", "--orig-port-dst", String(f.port)];
  if (f.ip !== undefined) argv.push("--orig-dst", f.ip);
  if (f.client !== undefined) argv.push("--orig-src", f.client.ip, "--orig-port-src", String(f.client.port));
  else if (f.endpoint !== undefined) {
    const i = f.endpoint.lastIndexOf(":");
    argv.push("--reply-src", f.endpoint.slice(0, i), "--reply-port-src", f.endpoint.slice(i + 1));
  } else if (f.ip !== undefined) argv.push("--reply-src", f.ip); // not NATed: the reply comes from the service IP itself
  else argv.push("--reply-port-src", String(f.port));
  return argv;
}

/**
 * Deletes the flows, a few `conntrack` processes at a time. Returns how
 * many entries went; "0 flow entries" is not an error. Failures are
 * returned as messages, not thrown: a stale entry expires on its own.
 */
export function deleteStaleFlows(runner: Runner, flows: readonly StaleFlow[]): Promise<{ deleted: number; errors: string[] }> {
  return runConntrackDeletes(runner, flows.map(conntrackDeleteArgv));
}
