/**
 * The smoke test's checks, each one row. The traffic checks are
 * independent and run at once; the agent-restart checks run after them, in
 * order: kill an agent, check pods still talk while it is down, wait for
 * the supervisor to bring it back ready, check again. (In a lab with
 * Kubernetes the agents are the weft DaemonSet's pods, and agent-pod.ts
 * deletes one instead.)
 *
 *   ping / tcp, same node      smoke-a → smoke-b
 *   ping / tcp, across nodes   smoke-a → smoke-c
 *   no NAT, same node          smoke-b → smoke-a sees smoke-b's own IP
 *   no NAT, across nodes       smoke-c → smoke-a sees smoke-c's own IP
 *   node to pod                smoke-c's node → smoke-a (TCP)
 *   pod to node                smoke-a → smoke-c's node's underlay IP (ping)
 *   masquerade                 each node's smoke pod → the outside host sees the node's underlay IP
 *   agent …                    the agent of smoke-c's node (of the only node in a one-node lab)
 *
 * With one node there is no smoke-c: the checks across nodes are skipped,
 * and the agent-restart checks use smoke-a → smoke-b.
 */
import { OUTSIDE_IP, OUTSIDE_PORT, logFile, nodeNs, type LabLayout } from "../layout.ts";
import type { LabState } from "../state.ts";
import { agentReady, killAgent, waitAgentBack } from "./agent.ts";
import { SMOKE_PORT, type SmokePod, type SmokePods } from "./pods.ts";
import { ask, ping, type ProbeResult } from "./probe.ts";
import type { SmokeRow } from "./report.ts";

/** How long one probe may take. */
const PROBE_TIMEOUT_MS = 2000;
/** How long a killed agent may take to be running and ready again. */
const AGENT_BACK_TIMEOUT_MS = 20_000;

/** What the checks run against. */
export interface SmokeContext {
  lab: LabLayout;
  state: LabState;
  pods: SmokePods;
}

const label = (pod: SmokePod, port?: number) => `${pod.name} (${pod.ip}${port === undefined ? "" : `:${port}`})`;
const skipped = (check: string, from: string, to: string): SmokeRow => ({ check, from, to, result: "skip", detail: "skipped (1 node)" });
const failed = (p: ProbeResult) => p.error ?? "failed";

/** A ping from a namespace, as a row. */
async function pingRow(check: string, from: string, ns: string, to: string, ip: string): Promise<SmokeRow> {
  const p = await ping(ns, ip, PROBE_TIMEOUT_MS);
  return { check, from, to, result: p.ok ? "pass" : "fail", detail: p.ok ? `rtt ${p.ms} ms` : failed(p) };
}

/**
 * A TCP connection to an echo-source server, as a row. With `expect`, the
 * address the server saw must be `expect.ip` (`expect.what` names it).
 */
async function tcpRow(check: string, from: string, ns: string, to: string, ip: string, port: number, expect?: { ip: string; what: string }): Promise<SmokeRow> {
  const p = await ask(ns, ip, port, PROBE_TIMEOUT_MS);
  const row = { check, from, to };
  if (!p.ok) return { ...row, result: "fail", detail: failed(p) };
  if (expect === undefined) return { ...row, result: "pass", detail: `answered in ${p.ms} ms, saw ${p.answer}` };
  if (p.answer === expect.ip) return { ...row, result: "pass", detail: `saw ${p.answer}, ${expect.what}` };
  return { ...row, result: "fail", detail: `saw ${p.answer}, expected ${expect.ip}, ${expect.what}` };
}

/** The independent traffic checks, started at once. */
export function trafficChecks(ctx: SmokeContext): Promise<SmokeRow>[] {
  const { a, b, c } = ctx.pods;
  const node = ctx.state.nodes.find((n) => n.name === (c ?? a).node)!;
  const nodeLabel = `${node.name} (${node.underlayIp})`;
  const outside = `outside (${OUTSIDE_IP}:${OUTSIDE_PORT})`;
  const masquerade = (pod: SmokePod) => {
    const ip = ctx.state.nodes.find((n) => n.name === pod.node)!.underlayIp;
    return tcpRow("masquerade", pod.name, pod.netns, outside, OUTSIDE_IP, OUTSIDE_PORT, { ip, what: `${pod.node}'s underlay IP` });
  };
  const across = (check: string, run: (c: SmokePod) => Promise<SmokeRow>, from: string, to: string) =>
    c ? run(c) : Promise.resolve(skipped(check, from, to));
  return [
    pingRow("ping, same node", a.name, a.netns, label(b), b.ip),
    tcpRow("tcp, same node", a.name, a.netns, label(b, SMOKE_PORT), b.ip, SMOKE_PORT),
    tcpRow("no NAT, same node", b.name, b.netns, label(a, SMOKE_PORT), a.ip, SMOKE_PORT, { ip: b.ip, what: `${b.name}'s own IP` }),
    across("ping, across nodes", (c) => pingRow("ping, across nodes", a.name, a.netns, label(c), c.ip), a.name, "smoke-c"),
    across("tcp, across nodes", (c) => tcpRow("tcp, across nodes", a.name, a.netns, label(c, SMOKE_PORT), c.ip, SMOKE_PORT), a.name, "smoke-c"),
    across("no NAT, across nodes", (c) => tcpRow("no NAT, across nodes", c.name, c.netns, label(a, SMOKE_PORT), a.ip, SMOKE_PORT, { ip: c.ip, what: `${c.name}'s own IP` }), "smoke-c", a.name),
    tcpRow("node to pod", node.name, nodeNs(ctx.lab, node.name), label(a, SMOKE_PORT), a.ip, SMOKE_PORT),
    pingRow("pod to node", a.name, a.netns, nodeLabel, node.underlayIp),
    masquerade(a),
    across("masquerade", masquerade, "smoke-c", outside),
  ];
}

/** Ping and TCP from `from` to `to` as one row. */
export async function talkRow(check: string, from: SmokePod, to: SmokePod): Promise<SmokeRow> {
  const [p, t] = await Promise.all([ping(from.netns, to.ip, PROBE_TIMEOUT_MS), ask(from.netns, to.ip, SMOKE_PORT, PROBE_TIMEOUT_MS)]);
  const row = { check, from: from.name, to: label(to) };
  if (!p.ok || !t.ok) return { ...row, result: "fail", detail: [p.ok ? "" : `ping: ${failed(p)}`, t.ok ? "" : `tcp: ${failed(t)}`].filter(Boolean).join("; ") };
  return { ...row, result: "pass", detail: `ping rtt ${p.ms} ms, tcp answered in ${t.ms} ms` };
}

/** In a --no-kubernetes lab: kill the agent of smoke-c's node, check traffic while it is down, wait for it, check again. */
export async function agentRestartChecks(ctx: SmokeContext): Promise<SmokeRow[]> {
  const { a, b, c } = ctx.pods;
  const peer = c ?? b;
  const node = peer.node;
  const agent = `${node}-agent`;
  const rows: SmokeRow[] = [];
  let oldPid: number;
  try {
    oldPid = killAgent(ctx.lab, node);
  } catch (err) {
    return [{ check: "agent killed", from: "-", to: agent, result: "fail", detail: (err as Error).message }];
  }
  const killedAt = performance.now();
  rows.push({ check: "agent killed", from: "-", to: agent, result: "pass", detail: `SIGKILL to pid ${oldPid}` });
  const down = await talkRow("pods talk, agent down", a, peer);
  // The supervisor restarts the agent after a short backoff; say so when it was ready again before the probes ended.
  if (await agentReady(ctx.lab, node)) down.detail += ` (${agent} was back before the probes ended)`;
  rows.push(down);
  const newPid = await waitAgentBack(ctx.lab, node, oldPid, AGENT_BACK_TIMEOUT_MS);
  const seconds = ((performance.now() - killedAt) / 1000).toFixed(1);
  if (newPid === null) {
    rows.push({ check: "agent back", from: "-", to: agent, result: "fail", detail: `not running and ready ${AGENT_BACK_TIMEOUT_MS / 1000} s after the kill; see ${logFile(ctx.lab, agent)}` });
    return rows;
  }
  rows.push({ check: "agent back", from: "-", to: agent, result: "pass", detail: `pid ${newPid}, ready ${seconds} s after the kill` });
  rows.push(await talkRow("pods talk, agent back", a, peer));
  return rows;
}
