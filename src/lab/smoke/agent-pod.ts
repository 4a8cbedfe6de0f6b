/**
 * The agent-restart checks in a lab with Kubernetes, where each node's agent
 * is a pod of the weft DaemonSet: delete the agent's pod on smoke-c's node
 * (`kubectl delete pod -n kube-system weft-xxxxx`, as an eviction, a drain
 * or a rollout does), check the smoke pods still talk while it is replaced,
 * wait until the DaemonSet's new pod on that node is Running and Ready, then
 * check the node kept its subnet (the new agent's, the subnet file's and
 * Node.spec.podCIDR are the one it had) and that the pods still talk.
 *
 *   agent pod deleted       which pod, on which node
 *   pods talk, agent pod replaced   ping + TCP smoke-a → smoke-c while it is replaced
 *   agent pod back          the replacement's name, Running and Ready how long after the delete
 *   subnet kept             the node's subnet before = the new agent's = subnet file = Node.spec.podCIDR
 *   pods talk, agent back   ping + TCP again
 */
import { fetchAgent } from "../../agent/client.ts";
import type { AgentStatus } from "../../agent/status.ts";
import { sleep } from "../../lib/sleep.ts";
import { formatPrefix } from "../../lib/ipv4.ts";
import { readSubnetFile } from "../../subnet/file.ts";
import { labKubectl, type Kubectl } from "../kube-pods.ts";
import { nodePaths, type LabLayout } from "../layout.ts";
import { talkRow, type SmokeContext } from "./checks.ts";
import type { SmokeRow } from "./report.ts";

/** How long the DaemonSet's replacement may take to be Running and Ready (its readiness probe runs every 5 s). */
const AGENT_POD_BACK_TIMEOUT_MS = 60_000;
/** How often the replacement is looked for. */
const POLL_MS = 250;
/** The namespace and label of the weft DaemonSet's pods (deploy/weft.yaml). */
const NAMESPACE = "kube-system";
const SELECTOR = "app=weft";

/** A weft pod as the checks need it. */
interface AgentPod {
  name: string;
  uid: string;
  /** Running, Ready and not being deleted. */
  ready: boolean;
}

/** The weft pods bound to `node`. */
async function agentPods(kubectl: Kubectl, node: string): Promise<AgentPod[]> {
  const r = await kubectl(["get", "pods", "-n", NAMESPACE, "-l", SELECTOR, "--field-selector", `spec.nodeName=${node}`, "-o", "json"]);
  if (r.code !== 0) throw new Error(`kubectl get pods -n ${NAMESPACE} -l ${SELECTOR} failed: ${r.stderr.trim().split("\n").at(-1)}`);
  const list = JSON.parse(r.stdout) as {
    items: { metadata: { name: string; uid: string; deletionTimestamp?: string }; status?: { phase?: string; conditions?: { type: string; status: string }[] } }[];
  };
  return list.items.map((p) => ({
    name: p.metadata.name,
    uid: p.metadata.uid,
    ready: !p.metadata.deletionTimestamp && p.status?.phase === "Running" && (p.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
  }));
}

/** Node `node`'s spec.podCIDR, or null when it has none. */
async function podCidrOf(kubectl: Kubectl, node: string): Promise<string | null> {
  const r = await kubectl(["get", "node", node, "-o", "jsonpath={.spec.podCIDR}"]);
  if (r.code !== 0) throw new Error(`kubectl get node ${node} failed: ${r.stderr.trim().split("\n").at(-1)}`);
  return r.stdout.trim() || null;
}

/** The subnet in `node`'s subnet file, or why it cannot be read. */
function subnetFileOf(lab: LabLayout, node: string): string {
  try {
    return formatPrefix(readSubnetFile(nodePaths(lab, node).subnetFile).subnet);
  } catch (err) {
    return `unreadable (${(err as Error).message})`;
  }
}

/** The subnet `node`'s running agent holds, from its API socket, or why it cannot be asked. */
async function agentSubnetOf(lab: LabLayout, node: string): Promise<string> {
  try {
    return (await fetchAgent<AgentStatus>(nodePaths(lab, node).agentSocket, "/status")).subnet ?? "none";
  } catch (err) {
    return `unknown (${(err as Error).message})`;
  }
}

/**
 * Waits until `node` has a weft pod other than `oldUid` that is Running and
 * Ready; resolves with it, or null after `timeoutMs`.
 */
async function waitReplacement(kubectl: Kubectl, node: string, oldUid: string, timeoutMs: number): Promise<AgentPod | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const back = (await agentPods(kubectl, node).catch(() => [])).find((p) => p.uid !== oldUid && p.ready);
    if (back !== undefined) return back;
    if (Date.now() >= deadline) return null;
    await sleep(POLL_MS);
  }
}

/** Delete the weft pod of smoke-c's node, check traffic while it is replaced, wait for the replacement, check the subnet and traffic again. */
export async function agentPodChecks(ctx: SmokeContext): Promise<SmokeRow[]> {
  const { a, b, c } = ctx.pods;
  const peer = c ?? b;
  const node = peer.node;
  const kubectl = labKubectl(ctx.lab, ctx.state);
  const nameFlag = ctx.lab.name === "lab" ? "" : ` --name ${ctx.lab.name}`;
  const describe = `weft lab kubectl${nameFlag} -- get pods -n ${NAMESPACE} -l ${SELECTOR} -o wide`;
  const rows: SmokeRow[] = [];

  let old: AgentPod;
  let subnetBefore: string;
  try {
    const pods = await agentPods(kubectl, node);
    const running = pods.find((p) => p.ready);
    if (running === undefined) {
      return [{ check: "agent pod deleted", from: "-", to: `weft pod on ${node}`, result: "fail", detail: `no Running and Ready weft pod on ${node} to delete (${pods.length} weft pod${pods.length === 1 ? "" : "s"} there); see ${describe}` }];
    }
    old = running;
    subnetBefore = subnetFileOf(ctx.lab, node);
    const r = await kubectl(["delete", "pod", "-n", NAMESPACE, old.name, "--wait=false"]);
    if (r.code !== 0) throw new Error(`kubectl delete pod -n ${NAMESPACE} ${old.name} failed: ${r.stderr.trim().split("\n").at(-1)}`);
  } catch (err) {
    return [{ check: "agent pod deleted", from: "-", to: `weft pod on ${node}`, result: "fail", detail: (err as Error).message }];
  }
  const deletedAt = performance.now();
  const target = `${NAMESPACE}/${old.name} (${node})`;
  rows.push({ check: "agent pod deleted", from: "-", to: target, result: "pass", detail: `kubectl delete pod -n ${NAMESPACE} ${old.name}; node ${node} held ${subnetBefore}` });

  const during = await talkRow("pods talk, agent pod replaced", a, peer);
  const early = (await agentPods(kubectl, node).catch(() => [])).find((p) => p.uid !== old.uid && p.ready);
  if (early !== undefined) during.detail += ` (the replacement ${early.name} was ready before the probes ended)`;
  rows.push(during);

  const back = await waitReplacement(kubectl, node, old.uid, AGENT_POD_BACK_TIMEOUT_MS);
  const seconds = ((performance.now() - deletedAt) / 1000).toFixed(1);
  if (back === null) {
    rows.push({ check: "agent pod back", from: "-", to: `weft pod on ${node}`, result: "fail", detail: `the DaemonSet has no new Running and Ready pod on ${node} ${AGENT_POD_BACK_TIMEOUT_MS / 1000} s after ${old.name} was deleted; see ${describe}` });
    return rows;
  }
  rows.push({ check: "agent pod back", from: "-", to: `${NAMESPACE}/${back.name} (${node})`, result: "pass", detail: `the DaemonSet's replacement for ${old.name}, Running and Ready ${seconds} s after the delete` });

  const [podCidr, agentSubnet] = await Promise.all([podCidrOf(kubectl, node).catch((err: Error) => `unknown (${err.message})`), agentSubnetOf(ctx.lab, node)]);
  const fileSubnet = subnetFileOf(ctx.lab, node);
  const kept = podCidr === subnetBefore && agentSubnet === subnetBefore && fileSubnet === subnetBefore;
  rows.push({
    check: "subnet kept",
    from: "-",
    to: node,
    result: kept ? "pass" : "fail",
    detail: kept
      ? `${back.name} holds ${subnetBefore}, as before: Node.spec.podCIDR and the subnet file agree`
      : `before the delete ${subnetBefore}; now Node.spec.podCIDR ${podCidr ?? "none"}, ${back.name} holds ${agentSubnet}, the subnet file says ${fileSubnet}`,
  });
  rows.push(await talkRow("pods talk, agent back", a, peer));
  return rows;
}
