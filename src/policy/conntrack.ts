/**
 * Strict mode: when a policy starts denying a connection that is already
 * tracked, its conntrack entry would keep it alive (the table accepts
 * `ct state established` first). With `strict`, after each sync that
 * changed the table the controller lists the namespace's TCP, UDP and SCTP
 * entries, asks the evaluator about each one's real endpoints (after DNAT:
 * the reply's source), and deletes the entries it denies; the flow's next
 * packet is then a new connection and meets the rules.
 */
import { runConntrackDeletes } from "../kernel/conntrack.ts";
import type { Runner } from "../kernel/runner.ts";
import { evaluate, type Connection } from "./evaluate.ts";
import type { Protocol } from "./types.ts";
import type { PolicyIndex } from "./world.ts";

/** One tracked flow: the original direction and the real destination (reply source). */
export interface TrackedFlow {
  protocol: Protocol;
  src: string;
  sport: number;
  /** The destination as the client addressed it (a Service IP, before DNAT). */
  dst: string;
  dport: number;
  /** Where replies come from: the real destination. */
  replySrc: string;
  replySport: number;
}

const PROTOCOLS: Record<string, Protocol> = { tcp: "TCP", udp: "UDP", sctp: "SCTP" };

/** Parses `conntrack -L` text; lines of other protocols or that it cannot read are skipped. */
export function parseFlows(text: string): TrackedFlow[] {
  const out: TrackedFlow[] = [];
  for (const line of text.split("\n")) {
    const protocol = PROTOCOLS[line.split(/\s+/, 1)[0]!];
    if (!protocol) continue;
    const src = [...line.matchAll(/\bsrc=(\S+)/g)].map((m) => m[1]!);
    const dst = [...line.matchAll(/\bdst=(\S+)/g)].map((m) => m[1]!);
    const sport = [...line.matchAll(/\bsport=(\d+)/g)].map((m) => Number(m[1]));
    const dport = [...line.matchAll(/\bdport=(\d+)/g)].map((m) => Number(m[1]));
    if (src.length < 2 || dst.length < 1 || sport.length < 2 || dport.length < 1) continue;
    out.push({ protocol, src: src[0]!, sport: sport[0]!, dst: dst[0]!, dport: dport[0]!, replySrc: src[1]!, replySport: sport[1]! });
  }
  return out;
}

/** The flows the policies deny now (traffic from `localIps`, this node's own addresses, is always allowed). */
export function deniedFlows(index: PolicyIndex, flows: readonly TrackedFlow[], localIps: readonly string[]): TrackedFlow[] {
  return flows.filter((f) => {
    if (localIps.includes(f.src)) return false;
    const c: Connection = { src: f.src, dst: f.replySrc, protocol: f.protocol, port: f.replySport };
    return !evaluate(index, c).allowed;
  });
}

/** The `conntrack -D` argv deleting exactly one flow. */
export function deleteFlowArgv(f: TrackedFlow): string[] {
  return ["conntrack", "-D", "-p", f.protocol.toLowerCase(), "--orig-src", f.src, "--orig-port-src", String(f.sport), "--orig-dst", f.dst, "--orig-port-dst", String(f.dport), "--reply-src", f.replySrc, "--reply-port-src", String(f.replySport)];
}

/** Lists the tracked TCP, UDP and SCTP flows of the runner's namespace. */
export async function listFlows(runner: Runner): Promise<TrackedFlow[]> {
  const r = await runner.exec(["conntrack", "-L"]);
  if (r.code !== 0) throw new Error(`conntrack -L failed: ${r.stderr.trim() || `exit status ${r.code}`}`);
  return parseFlows(r.stdout);
}

/** Deletes the flows, a few `conntrack` processes at a time; returns how many entries went and the failures (a flow already gone is not one). */
export function deleteFlows(runner: Runner, flows: readonly TrackedFlow[]): Promise<{ deleted: number; errors: string[] }> {
  return runConntrackDeletes(runner, flows.map(deleteFlowArgv));
}
