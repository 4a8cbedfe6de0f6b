/**
 * The network policy's verdict on a traced path, as two hops: the source
 * pod's egress, which the source node enforces, and the destination pod's
 * ingress, which the destination node enforces (compile.ts: each node owns
 * its own pods' chains). Each node's agent is asked (/policy/explain) for
 * its own direction, so the answer is what that node enforces, naming the
 * policy and rule that let the traffic through, or the policies that
 * isolate the pod when none does (the packet is dropped).
 *
 * Without a port the question is "can A reach B at all": a direction
 * allows it when some rule's peers match, and the hop lists the ports the
 * allowing rules open.
 */
import { fetchAgent } from "../agent/client.ts";
import { POLICY_OFF } from "../agent/api.ts";
import { WeftError } from "../lib/errors.ts";
import type { DirectionExplanation, Explanation } from "../policy/explain.ts";
import type { Protocol } from "../policy/types.ts";
import { broken, ok, unknown, type Hop } from "./hop.ts";

/** The port a trace asks about: `POD-B:PORT[/proto]`. */
export interface TracePort {
  protocol: Protocol;
  port: number;
}

/** One node agent's explanation, or why there is none. */
export type ExplainRead = { ok: true; value: Explanation } | { ok: false; off: boolean; error: string };

/** What the policy hops are built from. */
export interface PolicyFacts {
  port: TracePort | null;
  /** From the source node's agent, which enforces the source pod's egress. */
  egress: ExplainRead;
  /** From the destination node's agent, which enforces the destination pod's ingress. */
  ingress: ExplainRead;
}

/** Splits `POD:PORT[/tcp|udp|sctp]` into the pod and the port; a name without a colon has no port. */
export function parseTraceTarget(target: string): { pod: string; port: TracePort | null } {
  const colon = target.lastIndexOf(":");
  if (colon < 0) return { pod: target, port: null };
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(target.slice(colon + 1));
  const port = m ? Number(m[1]) : 0;
  if (!m || port < 1 || port > 65535 || colon === 0) {
    throw new WeftError("USAGE", `trace: ${JSON.stringify(target)} is not POD or POD:PORT[/PROTOCOL]`, { hint: "give a port from 1 to 65535 and, optionally, /tcp, /udp or /sctp (default tcp), e.g. web:80/tcp" });
  }
  return { pod: target.slice(0, colon), port: { protocol: (m[2]?.toUpperCase() ?? "TCP") as Protocol, port } };
}

/** Asks the agents at `srcSocket` and `dstSocket` about the connection; one agent when both pods share a node. */
export async function readPolicyFacts(srcSocket: string, dstSocket: string, from: string, to: string, port: TracePort | null): Promise<PolicyFacts> {
  const path = `/policy/explain?${new URLSearchParams({ from, to, ...(port && { protocol: port.protocol, port: String(port.port) }) })}`;
  const ask = async (socket: string): Promise<ExplainRead> => {
    try {
      return { ok: true, value: await fetchAgent<Explanation>(socket, path) };
    } catch (err) {
      const off = err instanceof WeftError && err.code === POLICY_OFF;
      return { ok: false, off, error: (err as Error).message };
    }
  };
  const egress = ask(srcSocket);
  const ingress = srcSocket === dstSocket ? egress : ask(dstSocket);
  return { port, egress: await egress, ingress: await ingress };
}

/** The egress hop (on `srcNode`) and the ingress hop (on `dstNode`). */
export function policyHops(f: PolicyFacts, srcNode: string, dstNode: string, to: string, from: string): { egress: Hop; ingress: Hop } {
  return {
    egress: directionHop(f, "egress", srcNode, f.egress, to),
    ingress: directionHop(f, "ingress", dstNode, f.ingress, from),
  };
}

function directionHop(f: PolicyFacts, dir: "egress" | "ingress", node: string, read: ExplainRead, peer: string): Hop {
  const what = `policy ${dir}${f.port ? ` ${f.port.protocol} ${f.port.port}` : ""}`;
  if (!read.ok) {
    if (read.off) return ok(node, what, `network policy does not run on ${node}: nothing is filtered here`);
    return unknown(node, what, `cannot ask ${node}'s agent: ${read.error}`);
  }
  const e = read.value;
  if (e.self) return ok(node, what, "a pod reaching itself is always allowed");
  const d: DirectionExplanation | null = e[dir];
  if (d === null) return ok(node, what, `${dir === "egress" ? "the source" : "the destination"} is no pod the agent knows: not filtered ${dir === "egress" ? "on the way out" : "on the way in"}`);
  if (!d.isolated) return ok(node, what, `${d.pod} is not isolated for ${dir} (no policy selects it for ${dir})`);
  const toward = `${dir === "egress" ? "to" : "from"} ${peer}`;
  if (d.allowedBy.length === 0) {
    const by = d.policies.join(", ");
    return broken(
      node,
      what,
      `${d.pod} is isolated for ${dir} by ${by}; no rule allows ${f.port ? `${f.port.protocol} ${f.port.port}` : "any port"} ${toward}`,
      `a rule allowing it: the packet is dropped (counted in weft_policy_dropped_packets_total{direction="${dir}"})`,
      `add an ${dir} rule ${toward} to one of ${by}, or another policy selecting ${d.pod}; weft status policy shows what selects it`,
    );
  }
  const [first, ...more] = d.allowedBy;
  const text = (r: typeof first) => `${r!.policy} ${dir} rule ${r!.rule} (${r!.ports})`;
  return ok(node, what, `${d.pod} is isolated for ${dir}; allowed by ${text(first)}`, more.map((r) => `also allowed by ${text(r)}`));
}
