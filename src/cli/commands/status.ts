/**
 * `weft status [peers|ipam|connections|services|policy]`: asks the node agent over its API
 * socket (src/agent/api.ts) and prints what it says; with `--lab NAME`, asks
 * every node of the lab at once. A lab node whose agent does not answer is
 * one line on stderr and a non-zero exit; the other nodes are still shown.
 */
import { join } from "node:path";
import { fetchAgent } from "../../agent/client.ts";
import type { IpamUsage } from "../../agent/ipam-usage.ts";
import type { AgentStatus, ConnectionStatus } from "../../agent/status.ts";
import { labLayout, nodePaths, validateLabName } from "../../lab/layout.ts";
import { readLabState } from "../../lab/state.ts";
import { requireAbsolute } from "../../lib/dirs.ts";
import { describeError, WeftError } from "../../lib/errors.ts";
import { parseCommandArgs, parseOutput } from "../args.ts";
import type { ServicesStatus } from "../../agent/api.ts";
import { formatConnections, formatIpam, formatPeers, formatServices, formatSummary, type IpamAnswer } from "../status-format.ts";
import { formatPolicy } from "../policy-format.ts";
import type { PolicyStatus } from "../../policy/controller.ts";

/** The agent's runtime directory when --run-dir is not given. */
const DEFAULT_RUN_DIR = "/run/weft";
/** The API socket's name in the runtime directory. */
const SOCKET_NAME = "agent.sock";

const USAGE = `usage: weft status [peers|ipam|connections|services|policy] [-o table|json] [--run-dir DIR | --socket PATH | --lab NAME]

  (none)          the node's summary: readiness, subnet, backend, store, lease, peers, IPAM, reconciles
  peers           the node and its peers: NODE PUBLIC IP SUBNET BACKEND STATE
  ipam            pod addresses per node subnet: NODE SUBNET USED FREE PODS
  connections     ping every peer's gateway over the backend: PEER PUBLIC IP TARGET STATE RTT MTU
  services        the service proxy's programmed ports: SERVICE PROTO DESTINATIONS ENDPOINTS LOCAL CLIENTS GET
  policy          the node's pods under network policy: POD IP INGRESS EGRESS POLICIES

  -o table|json   output format (default table); json prints the agent's answer as it is
  --run-dir DIR   the agent's runtime directory (default ${DEFAULT_RUN_DIR}); asks DIR/${SOCKET_NAME}
  --socket PATH   the agent's API socket (instead of --run-dir)
  --lab NAME      ask every node of lab NAME: a NODE column or section per node; json is an
                  array of per-node objects with a "node" key
`;

/** One agent to ask: its lab node name (empty outside a lab) and socket. */
interface Agent {
  node: string;
  socket: string;
}

interface Context {
  agents: Agent[];
  lab: boolean;
  json: boolean;
  /** Lab nodes that did not answer. */
  failed: number;
}

/** One node's answer. */
interface Answer<T> {
  node: string;
  value: T;
}

/** A listing: asks the agents, returns what goes to stdout. */
type View = (ctx: Context) => Promise<string>;

/** `weft status`: each node's summary. */
const summary: View = async (ctx) => {
  if (ctx.json) return toJson(ctx, await ask(ctx, (s) => fetchAgent<AgentStatus>(s, "/status")));
  const got = await ask(ctx, statusAndIpam);
  return got.map(({ value }) => formatSummary(value.status, value.ipam, Date.now())).join("\n");
};

const LISTINGS: Record<string, View> = {
  async peers(ctx) {
    const got = await ask(ctx, (s) => fetchAgent<AgentStatus>(s, "/status"));
    if (ctx.json) return toJson(ctx, got.map((g) => ({ node: g.node, value: g.value.peers })), "peers");
    return formatPeers(got.map((g) => g.value), ctx.lab);
  },
  async ipam(ctx) {
    if (ctx.json) return toJson(ctx, await ask(ctx, (s) => fetchAgent<IpamUsage>(s, "/ipam")));
    return formatIpam((await ask(ctx, statusAndIpam)).map((g) => g.value), ctx.lab);
  },
  async services(ctx) {
    const got = await ask(ctx, (s) => fetchAgent<ServicesStatus>(s, "/services"));
    if (ctx.json) return toJson(ctx, got);
    return formatServices(got.map((g) => ({ node: g.node, services: g.value })), ctx.lab);
  },
  async connections(ctx) {
    const got = await ask(ctx, (s) => fetchAgent<ConnectionStatus[]>(s, "/connections"));
    if (ctx.json) return toJson(ctx, got, "connections");
    return formatConnections(got.map((g) => ({ node: g.node, connections: g.value })), ctx.lab);
  },
  async policy(ctx) {
    const got = await ask(ctx, (s) => fetchAgent<PolicyStatus>(s, "/policy"));
    if (ctx.json) return toJson(ctx, got);
    return formatPolicy(got.map((g) => ({ node: g.node, policy: g.value })), ctx.lab);
  },
};

/** `weft status ...` */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    "status",
    argv,
    {
      output: { type: "string", short: "o", default: "table" },
      "run-dir": { type: "string" },
      socket: { type: "string" },
      lab: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    true,
  );
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new WeftError("USAGE", `status: expected at most one listing, got ${positionals.join(" ")}`, { hint: 'run "weft status --help"' });
  const name = positionals[0];
  const view = name === undefined ? summary : LISTINGS[name];
  if (!view) throw new WeftError("USAGE", `status: unknown listing "${name}"`, { hint: "use peers, ipam, connections, services or policy, or none for the summary" });
  const ctx: Context = { agents: agentsToAsk(values), lab: values.lab !== undefined, json: parseOutput("status", values.output) === "json", failed: 0 };
  process.stdout.write(await view(ctx));
  return ctx.failed > 0 ? 1 : 0;
}

/** The agents the flags name: one socket, or every node of --lab. */
function agentsToAsk(values: { "run-dir"?: string; socket?: string; lab?: string }): Agent[] {
  if (values.lab !== undefined) {
    if (values.socket !== undefined || values["run-dir"] !== undefined) throw new WeftError("USAGE", "status: --lab asks the lab's own sockets; drop --socket/--run-dir");
    const lab = labLayout(validateLabName(values.lab));
    return readLabState(lab).nodes.map((n) => ({ node: n.name, socket: nodePaths(lab, n.name).agentSocket }));
  }
  if (values.socket !== undefined && values["run-dir"] !== undefined) throw new WeftError("USAGE", "status: give --socket or --run-dir, not both");
  if (values.socket !== undefined) return [{ node: "", socket: requireAbsolute(values.socket, "--socket") }];
  return [{ node: "", socket: join(requireAbsolute(values["run-dir"] ?? DEFAULT_RUN_DIR, "--run-dir"), SOCKET_NAME) }];
}

/**
 * Asks every agent at once. Outside a lab a failure is thrown (main prints
 * it); in a lab it is printed for its node and counted, and the rest go on.
 */
async function ask<T>(ctx: Context, get: (socket: string) => Promise<T>): Promise<Answer<T>[]> {
  const settled = await Promise.allSettled(ctx.agents.map((a) => get(a.socket)));
  const answers: Answer<T>[] = [];
  settled.forEach((r, i) => {
    const node = ctx.agents[i]!.node;
    if (r.status === "fulfilled") answers.push({ node, value: r.value });
    else if (!ctx.lab) throw r.reason;
    else {
      process.stderr.write(`weft: ${node}: ${describeError(r.reason)}\n`);
      ctx.failed++;
    }
  });
  return answers;
}

/** /status and, once a subnet is leased, /ipam; an IPAM error is shown in place, not fatal. */
async function statusAndIpam(socket: string): Promise<{ status: AgentStatus; ipam: IpamAnswer }> {
  const status = await fetchAgent<AgentStatus>(socket, "/status");
  if (status.subnet === null) return { status, ipam: null };
  try {
    return { status, ipam: await fetchAgent<IpamUsage>(socket, "/ipam") };
  } catch (err) {
    if (err instanceof WeftError) return { status, ipam: err };
    throw err;
  }
}

/**
 * The agents' answers as JSON: one node's as it is; with --lab an array of
 * objects with a `node` key (a listing goes under `key`, an object's fields
 * are spread in).
 */
function toJson(ctx: Context, answers: Answer<unknown>[], key?: string): string {
  const value = ctx.lab ? answers.map((a) => (key ? { node: a.node, [key]: a.value } : { node: a.node, ...(a.value as object) })) : answers[0]!.value;
  return JSON.stringify(value, null, 2) + "\n";
}
