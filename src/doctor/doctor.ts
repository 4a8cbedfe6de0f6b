/**
 * `weft doctor`'s core: collect every node's facts at once, then run every
 * check over them. A check that throws (facts it did not expect) becomes a
 * failing finding of its own, so one check never hides the others.
 */
import { describeError } from "../lib/errors.ts";
import { sleep } from "../lib/sleep.ts";
import { checkAgent, checkReconcile, checkStore } from "./checks/agent.ts";
import { checkBackend } from "./checks/backend.ts";
import { checkConflist, checkPlugin, checkSubnetFile } from "./checks/cni.ts";
import { checkForwarding } from "./checks/forwarding.ts";
import { checkKubernetes } from "./checks/kubernetes.ts";
import { checkKubeProxy } from "./checks/kube-proxy.ts";
import { checkMtu } from "./checks/mtu.ts";
import { checkNftables } from "./checks/nftables.ts";
import { checkPaths } from "./checks/path.ts";
import { checkPeerEntries } from "./checks/peers.ts";
import { checkPolicy } from "./checks/policy.ts";
import { checkPublicIp } from "./checks/public-ip.ts";
import { checkServiceProxy } from "./checks/service-proxy.ts";
import { checkServices } from "./checks/services.ts";
import { checkClusterCidr, checkNodeSubnets } from "./checks/subnets.ts";
import { collectNode, type DoctorTarget } from "./collect.ts";
import type { Cluster } from "./facts.ts";
import type { KubeFacts } from "./kube-facts.ts";
import { STALE, type Check, type Finding } from "./finding.ts";

/** Every check by name, in report order: the agent, then the data plane, then the runtime's files. */
export const CHECKS: Record<string, Check> = {
  agent: checkAgent,
  forwarding: checkForwarding,
  "public-ip": checkPublicIp,
  "node-subnets": checkNodeSubnets,
  "cluster-cidr": checkClusterCidr,
  backend: checkBackend,
  peers: checkPeerEntries,
  path: checkPaths,
  mtu: checkMtu,
  nftables: checkNftables,
  policy: checkPolicy,
  "service-proxy": checkServiceProxy,
  "kube-proxy": checkKubeProxy,
  conflist: checkConflist,
  plugin: checkPlugin,
  "subnet-file": checkSubnetFile,
  store: checkStore,
  reconcile: checkReconcile,
  kubernetes: checkKubernetes,
  services: checkServices,
};

/** Every check's findings for every node of `cluster`, grouped by node. */
export function judge(cluster: Cluster): Finding[] {
  return cluster.nodes.flatMap((node) =>
    Object.entries(CHECKS).flatMap(([name, check]) => {
      try {
        return check(node, cluster);
      } catch (err) {
        return [{ node: node.name, check: name, status: "fail" as const, message: `the check could not run: ${describeError(err)}`, fix: "report this as a weft bug, with the output of weft status -o json" }];
      }
    }),
  );
}

/** The checks that compare a node's table with the API, which a change still in flight makes differ for a moment. */
const IN_STEP_CHECKS = new Set(["service-proxy", "policy"]);
/** How long doctor waits before it looks again at a table behind the API (an agent syncs within ~100 ms of an event). */
export const SETTLE_MS = 1500;

/**
 * Collects `targets` (and the cluster's Nodes with `readCluster`, when given)
 * and judges them. A proxy or policy table found behind the API is looked at
 * once more after SETTLE_MS, and only the second look counts: a Service,
 * endpoint or pod that changed just before doctor read the API is not a
 * stale table (seen in the suite: an EndpointSlice update in flight).
 */
export async function runDoctor(targets: readonly DoctorTarget[], lab: Cluster["lab"], readCluster?: () => Promise<KubeFacts>, settleMs = SETTLE_MS): Promise<Finding[]> {
  const look = async () => {
    const [nodes, kubernetes] = await Promise.all([
      Promise.all(targets.map(collectNode)),
      readCluster === undefined ? null : attemptRead(readCluster),
    ]);
    return judge({ nodes, lab, kubernetes });
  };
  return lookTwiceIfBehind(look, settleMs);
}

/** `look`'s findings; when a table is behind the API in them, `look`'s findings again after `settleMs`. */
export async function lookTwiceIfBehind(look: () => Promise<Finding[]>, settleMs: number): Promise<Finding[]> {
  const first = await look();
  if (!first.some((f) => f.status === "fail" && IN_STEP_CHECKS.has(f.check) && f.message.includes(` ${STALE}`))) return first;
  await sleep(settleMs);
  return look();
}

async function attemptRead(read: () => Promise<KubeFacts>): Promise<Cluster["kubernetes"]> {
  try {
    return { ok: true, value: await read() };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}
