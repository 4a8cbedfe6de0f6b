/**
 * `weft doctor`'s core: collect every node's facts at once, then run every
 * check over them. A check that throws (facts it did not expect) becomes a
 * failing finding of its own, so one check never hides the others.
 */
import { describeError } from "../lib/errors.ts";
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
import type { Check, Finding } from "./finding.ts";

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

/** Collects `targets` (and the cluster's Nodes with `readCluster`, when given) and judges them. */
export async function runDoctor(targets: readonly DoctorTarget[], lab: Cluster["lab"], readCluster?: () => Promise<KubeFacts>): Promise<Finding[]> {
  const [nodes, kubernetes] = await Promise.all([
    Promise.all(targets.map(collectNode)),
    readCluster === undefined ? null : attemptRead(readCluster),
  ]);
  return judge({ nodes, lab, kubernetes });
}

async function attemptRead(read: () => Promise<KubeFacts>): Promise<Cluster["kubernetes"]> {
  try {
    return { ok: true, value: await read() };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}
