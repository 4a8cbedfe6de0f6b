/**
 * The smoke test's Service checks, in a lab that runs Kubernetes (without
 * it there is no API server and no service proxy, and the rows say so):
 *
 *   ClusterIP             smoke-c → smoke-svc's ClusterIP, whose endpoints
 *                         are smoke-a and smoke-b on the other node; the
 *                         endpoint must see smoke-c's own IP (no SNAT)
 *   NodePort, outside     the outside host → smoke-svc's NodePort on the
 *                         last node (no endpoint there: the packet is
 *                         forwarded to another node)
 *   no endpoints refused  smoke-a → smoke-empty's ClusterIP: ECONNREFUSED
 *                         at once, not a timeout
 *
 * The smoke pods are the runtime's, not API Pods, so the Services have no
 * selector: smoke-svc gets an EndpointSlice naming the pods, which the
 * service proxy reads like any other, and smoke-empty gets none. Both are
 * labelled weft.dev/smoke and deleted afterwards (and before, should an
 * earlier smoke have been killed). In a one-node lab the ClusterIP check
 * runs smoke-a → smoke-b on the same node.
 */
import { fetchAgent } from "../../agent/client.ts";
import type { ServicesStatus } from "../../agent/api.ts";
import { createRunner } from "../../kernel/runner.ts";
import { describeError } from "../../lib/errors.ts";
import { sleep } from "../../lib/sleep.ts";
import { kubectlArgv } from "../control/kubectl.ts";
import { nodePaths, OUTSIDE_IP, type LabLayout } from "../layout.ts";
import type { LabState } from "../state.ts";
import { SMOKE_PORT, type SmokePod } from "./pods.ts";
import { ask } from "./probe.ts";
import { runProbe } from "../../trace/service/probe.ts";
import type { SmokeRow } from "./report.ts";

const SMOKE_LABEL = "weft.dev/smoke";
const SERVICE = "smoke-svc";
const EMPTY = "smoke-empty";
const SERVICE_PORT = 80;
/** How long one probe may take. */
const PROBE_TIMEOUT_MS = 2000;
/** How long the service proxies may take to program the smoke Services. */
const PROGRAM_TIMEOUT_MS = 10_000;

const CHECKS = ["ClusterIP", "NodePort, outside", "no endpoints refused"] as const;

/** What the Service checks need of a smoke pod. */
type Pod = Pick<SmokePod, "name" | "node" | "netns" | "ip">;

/** What the Service checks run against (smoke's SmokeContext is one). */
export interface ServiceCheckContext {
  lab: LabLayout;
  state: LabState;
  pods: { a: Pod; b: Pod; c: Pod | null };
}

type Kubectl = (args: string[], stdin?: string) => Promise<{ code: number; stdout: string; stderr: string }>;

/** The smoke Services and the EndpointSlice of smoke-svc over `endpoints`. */
function smokeObjects(endpoints: Pod[]): object {
  const labels = { [SMOKE_LABEL]: "true" };
  const service = (name: string, type: string, portName: string) => ({
    apiVersion: "v1", kind: "Service", metadata: { name, namespace: "default", labels },
    spec: { type, ports: [{ name: portName, protocol: "TCP", port: SERVICE_PORT, targetPort: SMOKE_PORT }] },
  });
  const slice = {
    apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
    metadata: { name: `${SERVICE}-pods`, namespace: "default", labels: { ...labels, "kubernetes.io/service-name": SERVICE, "endpointslice.kubernetes.io/managed-by": "smoke.weft.dev" } },
    addressType: "IPv4",
    endpoints: endpoints.map((p) => ({ addresses: [p.ip], conditions: { ready: true }, nodeName: p.node })),
    ports: [{ name: "echo", protocol: "TCP", port: SMOKE_PORT }],
  };
  return { apiVersion: "v1", kind: "List", items: [service(SERVICE, "NodePort", "echo"), service(EMPTY, "ClusterIP", ""), slice] };
}

async function removeSmokeServices(kubectl: Kubectl): Promise<void> {
  await kubectl(["delete", "services,endpointslices", "-n", "default", "-l", `${SMOKE_LABEL}=true`, "--ignore-not-found", "--wait=false"]);
}

/** Waits until every node in `nodes` has programmed both smoke Services (its agent's /services); returns what is still missing, or null. */
async function waitProgrammed(ctx: ServiceCheckContext, nodes: string[], endpoints: number): Promise<string | null> {
  const deadline = Date.now() + PROGRAM_TIMEOUT_MS;
  let missing = "";
  for (;;) {
    const states = await Promise.all(nodes.map(async (node) => {
      try {
        const s = await fetchAgent<ServicesStatus>(nodePaths(ctx.lab, node).agentSocket, "/services");
        const svc = s.ports.find((p) => p.service === `default/${SERVICE}`);
        const empty = s.ports.find((p) => p.service === `default/${EMPTY}`);
        return svc?.endpoints.length === endpoints && empty?.internal === "reject" ? null : `${node}'s service proxy has not programmed them yet`;
      } catch (err) {
        return `${node}: ${describeError(err)}`;
      }
    }));
    missing = states.filter((s) => s !== null).join("; ");
    if (missing === "") return null;
    if (Date.now() >= deadline) return `${missing} after ${PROGRAM_TIMEOUT_MS / 1000} s`;
    await sleep(100);
  }
}

/** The three Service rows. */
export async function serviceChecks(ctx: ServiceCheckContext): Promise<SmokeRow[]> {
  const { a, b, c } = ctx.pods;
  const client = c ?? a;
  const endpoints = c ? [a, b] : [b];
  const portNode = ctx.state.nodes.at(-1)!;
  const rows = {
    cluster: { check: CHECKS[0], from: client.name, to: `${SERVICE} (${endpoints.map((p) => p.name).join(", ")})` },
    nodePort: { check: CHECKS[1], from: `outside (${OUTSIDE_IP})`, to: `${SERVICE} NodePort on ${portNode.name}` },
    empty: { check: CHECKS[2], from: a.name, to: `${EMPTY} (no endpoints)` },
  };
  if (!ctx.state.kubernetes) {
    const detail = "skipped (--no-kubernetes: no API server, no service proxy)";
    return Object.values(rows).map((r) => ({ ...r, result: "skip", detail }));
  }
  const kubectl: Kubectl = (args, stdin) => createRunner().exec(kubectlArgv(ctx.lab, ctx.state, args), stdin);
  const failAll = (detail: string): SmokeRow[] => Object.values(rows).map((r) => ({ ...r, result: "fail", detail }));
  await removeSmokeServices(kubectl);
  try {
    const applied = await kubectl(["apply", "-f", "-"], JSON.stringify(smokeObjects(endpoints)));
    if (applied.code !== 0) return failAll(`kubectl apply of the smoke Services failed: ${applied.stderr.trim().split("\n").at(-1)}`);
    const got = await kubectl(["get", "services", "-n", "default", "-l", `${SMOKE_LABEL}=true`, "-o", "json"]);
    if (got.code !== 0) return failAll(`kubectl get of the smoke Services failed: ${got.stderr.trim().split("\n").at(-1)}`);
    const items = (JSON.parse(got.stdout) as { items: { metadata: { name: string }; spec: { clusterIP: string; ports: { nodePort?: number }[] } }[] }).items;
    const svc = items.find((s) => s.metadata.name === SERVICE)!;
    const empty = items.find((s) => s.metadata.name === EMPTY)!;
    const nodePort = svc.spec.ports[0]!.nodePort!;
    rows.cluster.to = `${SERVICE} (${svc.spec.clusterIP}:${SERVICE_PORT} → ${endpoints.map((p) => p.name).join(", ")})`;
    rows.nodePort.to = `${portNode.name} (${portNode.underlayIp}:${nodePort})`;
    rows.empty.to = `${EMPTY} (${empty.spec.clusterIP}:${SERVICE_PORT}, no endpoints)`;
    const waited = await waitProgrammed(ctx, [...new Set([client.node, a.node, portNode.name])], endpoints.length);
    if (waited !== null) return failAll(waited);

    const [cluster, outside, refused] = await Promise.all([
      ask(client.netns, svc.spec.clusterIP, SERVICE_PORT, PROBE_TIMEOUT_MS),
      ask(ctx.lab.outsideNs, portNode.underlayIp, nodePort, PROBE_TIMEOUT_MS),
      runProbe(a.netns, "tcp", empty.spec.clusterIP, SERVICE_PORT, PROBE_TIMEOUT_MS),
    ]);
    const clusterRow: SmokeRow = !cluster.ok
      ? { ...rows.cluster, result: "fail", detail: cluster.error ?? "failed" }
      : cluster.answer === client.ip
        ? { ...rows.cluster, result: "pass", detail: `answered in ${cluster.ms} ms, saw ${cluster.answer}, ${client.name}'s own IP` }
        : { ...rows.cluster, result: "fail", detail: `saw ${cluster.answer}, expected ${client.ip}, ${client.name}'s own IP (a pod's traffic to a ClusterIP is not masqueraded)` };
    const outsideRow: SmokeRow = !outside.ok
      ? { ...rows.nodePort, result: "fail", detail: outside.error ?? "failed" }
      : outside.answer !== OUTSIDE_IP
        ? { ...rows.nodePort, result: "pass", detail: `answered in ${outside.ms} ms, saw ${outside.answer} (masqueraded: externalTrafficPolicy Cluster)` }
        : { ...rows.nodePort, result: "fail", detail: `saw ${outside.answer}, the outside host's own address: externalTrafficPolicy Cluster masquerades` };
    const refusedRow: SmokeRow = refused.outcome === "refused"
      ? { ...rows.empty, result: "pass", detail: `ECONNREFUSED in ${refused.ms} ms, not a timeout` }
      : refused.outcome === "connected"
        ? { ...rows.empty, result: "fail", detail: "connected: a Service without endpoints must refuse" }
        : { ...rows.empty, result: "fail", detail: `${refused.outcome === "timeout" ? `no answer within ${PROBE_TIMEOUT_MS / 1000} s (a timeout)` : (refused.error ?? refused.outcome)}: expected ECONNREFUSED at once` };
    return [clusterRow, outsideRow, refusedRow];
  } catch (err) {
    return failAll(describeError(err));
  } finally {
    await removeSmokeServices(kubectl);
  }
}
