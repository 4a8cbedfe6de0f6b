/**
 * What one lab kubelet needs to know, all derived from the lab's layout and
 * its node, so `weft lab kubelet --name LAB --node NODE` needs no other
 * flags and the supervisor's command line stays short.
 *
 * Lab nodes share one filesystem, so every path is per node: the
 * kubelet's own state lives in NODE/kubelet/, and a pod's hostPath volume
 * is mapped into the node's directory (hostPathOnNode).
 */
import { join } from "node:path";
import { nodeNs, nodePaths, type LabLayout, type NodePaths } from "../layout.ts";
import type { LabNode } from "../state.ts";
import { kubeletCredentials } from "../control/paths.ts";

/** The kubelet API's port, as on every Kubernetes node. */
export const KUBELET_PORT = 10250;
/** The cluster DNS service address pods are given (kubelet's --cluster-dns). */
export const CLUSTER_DNS = "10.96.0.10";
/** The cluster domain (kubelet's --cluster-domain). */
export const CLUSTER_DOMAIN = "cluster.local";
/** The `kubernetes` service's address, for KUBERNETES_SERVICE_HOST. */
export const KUBERNETES_SERVICE_HOST = "10.96.0.1";

export interface KubeletConfig {
  lab: LabLayout;
  node: LabNode;
  /** The node's network namespace, where the kubelet and hostNetwork pods run. */
  nodeNs: string;
  paths: NodePaths;
  /** NODE/kubelet: pod directories, records and container logs. */
  rootDir: string;
  /** NODE/kubelet/pods: one directory per pod uid. */
  podsDir: string;
  /** NODE/kubelet/logs: NS_POD_UID/CONTAINER/N.log, like /var/log/pods. */
  logsDir: string;
  /** NODE/host: where hostPath volumes outside the known per-node paths live. */
  hostRoot: string;
  kubeconfig: string;
  /** The kubelet API's serving certificate and key, and the CA its clients' certificates must chain to. */
  tlsCert: string;
  tlsKey: string;
  clientCa: string;
  /** The cluster CA certificate, written as ca.crt into service-account volumes. */
  clusterCa: string;
  port: number;
  clusterDns: string;
  clusterDomain: string;
  /**
   * The node's agent-written subnet file when the lab runs the agents
   * itself (they lease from their own store, not from the Node): the Node is
   * then registered with that subnet as spec.podCIDR, which the controller
   * manager takes as allocated, so the Node says where its pods' IPs come
   * from. Null when the agents follow Node.spec.podCIDR (the add-on
   * install), where waiting for the file would wait for ever.
   */
  podCidrFromSubnetFile: string | null;
  /**
   * The lab's pod CIDR, the controller manager's --cluster-cidr. A subnet
   * outside it is never registered as a podCIDR: the controller manager
   * refuses to start on a Node whose podCIDR it cannot mark as taken.
   */
  clusterCidr: string;
  /**
   * The address registered as the Node's InternalIP, kubelet's --node-ip:
   * the node's underlay address by default, as a guide's kubeadm set-up
   * passes it. Null: none given, so the kubelet takes the address of its
   * default route's interface, as kubelet does without --node-ip (on a
   * Vagrant box, the NAT interface's 10.0.2.15 on every node).
   */
  nodeIp: string | null;
}

/** The configuration of the kubelet of `node` in `lab`. */
export function kubeletConfig(lab: LabLayout, node: LabNode, clusterCidr: string, labRunsAgents = true, nodeIp: string | null = node.underlayIp): KubeletConfig {
  const paths = nodePaths(lab, node.name);
  const rootDir = join(paths.dir, "kubelet");
  const creds = kubeletCredentials(lab, node.name);
  return {
    lab,
    node,
    nodeNs: nodeNs(lab, node.name),
    paths,
    rootDir,
    podsDir: join(rootDir, "pods"),
    logsDir: join(rootDir, "logs"),
    hostRoot: join(paths.dir, "host"),
    kubeconfig: creds.kubeconfig,
    tlsCert: creds.serving.cert,
    tlsKey: creds.serving.key,
    clientCa: creds.caCert,
    clusterCa: creds.caCert,
    port: KUBELET_PORT,
    clusterDns: CLUSTER_DNS,
    clusterDomain: CLUSTER_DOMAIN,
    podCidrFromSubnetFile: labRunsAgents ? paths.subnetFile : null,
    clusterCidr,
    nodeIp,
  };
}

/**
 * Where a hostPath volume's `path` is on this lab node. The node's own
 * stand-ins for the well-known directories come first, so a DaemonSet that
 * mounts /etc/cni/net.d or /opt/cni/bin writes the node's CNI dirs, exactly
 * what install-cni does on a real node; any other path is kept under
 * NODE/host/ so two nodes never share it.
 */
export function hostPathOnNode(cfg: Pick<KubeletConfig, "paths" | "hostRoot">, path: string): string {
  const p = cfg.paths;
  const known: [string, string][] = [
    ["/etc/cni/net.d", p.cniConfDir],
    ["/opt/cni/bin", p.cniBinDir],
    ["/var/lib/cni", p.cniCacheDir],
    ["/run/weft", p.runDir],
    ["/var/run/weft", p.runDir],
    ["/var/lib/weft", p.stateDir],
  ];
  const clean = normalizeAbsolute(path);
  for (const [hostDir, nodeDir] of known) {
    if (clean === hostDir) return nodeDir;
    if (clean.startsWith(`${hostDir}/`)) return join(nodeDir, clean.slice(hostDir.length + 1));
  }
  return clean === "/" ? cfg.hostRoot : join(cfg.hostRoot, clean);
}

/** `path` without `.`/`..` segments or doubled slashes; `..` never climbs above `/`. */
export function normalizeAbsolute(path: string): string {
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return `/${out.join("/")}`;
}
