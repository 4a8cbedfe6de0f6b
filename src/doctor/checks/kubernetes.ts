/**
 * `kubernetes`: on a node whose agent uses the kubernetes store, its Node
 * against the agent and the cluster: the Node has a podCIDR (and, when no
 * Node has one, whether the controller manager allocates them at all); the
 * cluster CIDR weft is configured with equals kube-controller-manager's
 * --cluster-cidr, the classic `kubeadm init` mistake; the agent's subnet
 * (and so the subnet file the plugin allocates from) is the podCIDR; and
 * the weft.dev/* annotations peers program from are published and current.
 */
import { contains, formatPrefix, parsePrefix } from "../../lib/ipv4.ts";
import { valueOf } from "../facts.ts";
import { fail, ok, warn, type Check } from "../finding.ts";
import { parsedSubnetFile } from "../subnet-file.ts";

const CHECK = "kubernetes";

export const checkKubernetes: Check = (node, cluster) => {
  const status = valueOf(node.agent.status);
  if (cluster.kubernetes === null || status?.store.name !== "kubernetes") return [];
  if (!cluster.kubernetes.ok) {
    return [fail(node, CHECK, `cannot read the cluster: ${cluster.kubernetes.error}`, "give weft doctor a kubeconfig that reaches the API server (--kubeconfig), and check the API server is up")];
  }
  const { nodes, allocation } = cluster.kubernetes.value;
  const self = nodes.find((n) => n.name === status.node);
  if (self === undefined) {
    return [fail(node, CHECK, `the agent runs as node ${status.node}, and the cluster has no Node of that name`, "start the agent with --node-name set to the Node's name (the DaemonSet passes spec.nodeName)")];
  }
  const findings = [];
  const cidrFix = `set "podCidr" in ConfigMap kube-system/weft-config (or --pod-cidr) to kube-controller-manager's --cluster-cidr, then kubectl -n kube-system rollout restart daemonset/weft`;
  if (allocation?.clusterCidr && formatPrefix(parsePrefix(allocation.clusterCidr, "cluster CIDR", false)) !== status.network) {
    findings.push(fail(node, CHECK, `weft's cluster CIDR ${status.network} is not kube-controller-manager's --cluster-cidr ${allocation.clusterCidr} (${allocation.source}), so node podCIDRs fall outside what weft routes`, cidrFix.replace("kube-controller-manager's --cluster-cidr", allocation.clusterCidr)));
  }
  const podCidr = self.podCidrs.find((c) => !c.includes(":"));
  if (podCidr === undefined) {
    const none = nodes.every((n) => n.podCidrs.length === 0);
    const why = allocation?.allocateNodeCidrs === false
      ? `kube-controller-manager runs without --allocate-node-cidrs (${allocation.source})`
      : none ? "no Node has one: kube-controller-manager is not allocating node CIDRs" : "the controller manager has not allocated one to it yet";
    const fix = none || allocation?.allocateNodeCidrs === false
      ? `run kube-controller-manager with --allocate-node-cidrs --cluster-cidr=${status.network} (kubeadm init --pod-network-cidr=${status.network})`
      : "read kube-controller-manager's log for why (a cluster CIDR used up by the nodes leaves new ones without)";
    findings.push(fail(node, CHECK, `Node ${self.name} has no spec.podCIDR (${why}); the agent waits for it and the node runs no pods`, fix));
    return findings;
  }
  const subnet = formatPrefix(parsePrefix(podCidr, "podCIDR", false));
  if (!contains(parsePrefix(status.network), parsePrefix(subnet).base)) {
    if (!findings.length) findings.push(fail(node, CHECK, `Node ${self.name}'s podCIDR ${subnet} is outside weft's cluster CIDR ${status.network}`, cidrFix));
    return findings;
  }
  if (status.subnet !== null && status.subnet !== subnet) {
    findings.push(fail(node, CHECK, `the agent uses ${status.subnet}, and Node ${self.name}'s spec.podCIDR is ${subnet}`, `restart the agent (kubectl -n kube-system delete pod of weft on ${self.name}) so it takes the podCIDR`));
  }
  const file = valueOf(parsedSubnetFile(node));
  if (file !== undefined && formatPrefix(file.subnet) !== subnet) {
    findings.push(fail(node, CHECK, `the subnet file ${node.paths.subnetFile} gives pods addresses of ${formatPrefix(file.subnet)}, and Node ${self.name}'s spec.podCIDR is ${subnet}`, "restart the agent, which rewrites the subnet file from the podCIDR"));
  }
  const published = self.weft;
  if (published["public-ip"] === undefined || published.backend === undefined) {
    findings.push(fail(node, CHECK, `Node ${self.name} carries no weft.dev/public-ip and weft.dev/backend annotations, so no peer routes to its pods`, `read the agent's log (${node.agentLog}): it publishes them once it has the podCIDR`));
  } else if (published["public-ip"] !== status.publicIp || published.backend !== status.backend || published["backend-data"] !== JSON.stringify(sortedObject(status.backendData))) {
    findings.push(warn(node, CHECK, `Node ${self.name}'s weft.dev annotations (${published["public-ip"]}, ${published.backend}) are not what its agent uses (${status.publicIp}, ${status.backend})`, "they are republished within one resync; if they stay, restart the agent"));
  }
  if (findings.length === 0) findings.push(ok(node, CHECK, `Node ${self.name}: podCIDR ${subnet} in ${status.network}, the subnet file and the weft.dev annotations agree`));
  return findings;
};

function sortedObject(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));
}
