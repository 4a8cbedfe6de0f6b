/**
 * Where a lab's Kubernetes control plane and its nodes' credentials live,
 * all under the lab's directory (so `weft lab down` removes them with it):
 *
 *     /run/weft/lab/NAME/control/
 *       pki/ca.crt, ca.key               the lab CA (signs every certificate below)
 *       pki/apiserver.{crt,key}          kube-apiserver's serving certificate
 *       pki/apiserver-kubelet-client.{crt,key}
 *                                        the API server's client certificate for kubelets
 *       pki/front-proxy-ca.{crt,key}     the CA of request-header (front-proxy) authentication
 *       pki/front-proxy-client.{crt,key} the API server's client certificate as a front proxy
 *       pki/sa.key, sa.pub               the service-account token signing key pair
 *       admin.conf, controller-manager.conf, scheduler.conf
 *                                        kubeconfigs, as kubeadm writes to /etc/kubernetes
 *       pki/{admin,controller-manager,scheduler}.{crt,key}
 *                                        the client certificates inside them
 *       etcd/                            etcd's data
 *       kubectl-cache/                   kubectl's discovery cache
 *     /run/weft/lab/NAME/nodeK/kubernetes/
 *       kubelet.conf                     the node's kubeconfig (system:node:nodeK)
 *       pki/ca.crt                       the lab CA, to verify the API server and its client
 *       pki/kubelet.{crt,key}            the kubelet's serving certificate (port 10250)
 *       pki/kubelet-client.{crt,key}     the kubelet's client certificate (also inside kubelet.conf)
 *
 * Nothing here touches the system.
 */
import { join } from "node:path";
import { CONTROL_IP, nodePaths, type LabLayout } from "../layout.ts";

/** The API server's secure port. */
export const APISERVER_PORT = 6443;
/** The URL every client uses for the API server: its underlay address, reachable from every lab namespace. */
export const APISERVER_URL = `https://${CONTROL_IP}:${APISERVER_PORT}`;
/** The service CIDR (`--service-cluster-ip-range`). */
export const SERVICE_CIDR = "10.96.0.0/12";
/** The `kubernetes` Service's cluster IP: the first address of SERVICE_CIDR. */
export const KUBERNETES_SERVICE_IP = "10.96.0.1";
/** The CN of the API server's front-proxy client certificate (`--requestheader-allowed-names`). */
export const FRONT_PROXY_CLIENT = "front-proxy-client";
/** The cluster's DNS domain. */
export const CLUSTER_DOMAIN = "cluster.local";

/** A certificate and its private key, both PEM files. */
export interface CertPair {
  cert: string;
  key: string;
}

/** The control plane's files. */
export interface ControlPaths {
  dir: string;
  pkiDir: string;
  caCert: string;
  caKey: string;
  apiserver: CertPair;
  apiserverKubeletClient: CertPair;
  frontProxyCa: CertPair;
  frontProxyClient: CertPair;
  /** The service-account signing key (private) and its public key. */
  saKey: string;
  saPub: string;
  adminConf: string;
  controllerManagerConf: string;
  schedulerConf: string;
  etcdDir: string;
  /** kubectl's discovery cache (`--cache-dir`) for `weft lab kubectl`. */
  kubectlCacheDir: string;
}

/** The control plane's files of lab `lab`. */
export function controlPaths(lab: LabLayout): ControlPaths {
  const dir = join(lab.dir, "control");
  const pkiDir = join(dir, "pki");
  const pair = (name: string): CertPair => ({ cert: join(pkiDir, `${name}.crt`), key: join(pkiDir, `${name}.key`) });
  return {
    dir,
    pkiDir,
    caCert: join(pkiDir, "ca.crt"),
    caKey: join(pkiDir, "ca.key"),
    apiserver: pair("apiserver"),
    apiserverKubeletClient: pair("apiserver-kubelet-client"),
    frontProxyCa: pair("front-proxy-ca"),
    frontProxyClient: pair("front-proxy-client"),
    saKey: join(pkiDir, "sa.key"),
    saPub: join(pkiDir, "sa.pub"),
    adminConf: join(dir, "admin.conf"),
    controllerManagerConf: join(dir, "controller-manager.conf"),
    schedulerConf: join(dir, "scheduler.conf"),
    etcdDir: join(dir, "etcd"),
    kubectlCacheDir: join(dir, "kubectl-cache"),
  };
}

/**
 * What a lab kubelet needs to be node `node`, as kubeadm leaves it on a
 * node after `kubeadm join` (/etc/kubernetes/kubelet.conf,
 * /var/lib/kubelet/pki). `lab up` writes these files for every node before
 * it returns; they are gone after `lab down`.
 */
export interface KubeletCredentials {
  /** The node name the credentials are for, e.g. "node1". */
  nodeName: string;
  /** The API server's URL (APISERVER_URL). */
  apiServerUrl: string;
  /**
   * A kubeconfig (JSON, which every kubeconfig reader accepts) for
   * `system:node:<node>` in group `system:nodes`, with the CA and the client
   * certificate embedded: the Node authorizer and NodeRestriction admission
   * let it register and update only this Node, its Lease and its pods.
   */
  kubeconfig: string;
  /** The lab CA: verifies the API server, and the API server's client certificate when it calls the kubelet. */
  caCert: string;
  /** The client certificate and key inside `kubeconfig`, as files. */
  client: CertPair;
  /**
   * The kubelet's serving certificate for port 10250, signed by the lab CA
   * for the node's name and underlay IP. The API server verifies it
   * (`--kubelet-certificate-authority`) when it calls the kubelet for logs
   * and exec, presenting its own client certificate, CN
   * `kube-apiserver-kubelet-client` in group `system:masters`, signed by the
   * same CA; a kubelet authenticates it by that CA (kubelet's
   * `--client-ca-file`).
   */
  serving: CertPair;
}

/** The credentials of the lab kubelet on `node` in lab `lab` (paths only; `lab up` writes the files). */
export function kubeletCredentials(lab: LabLayout, node: string): KubeletCredentials {
  const dir = join(nodePaths(lab, node).dir, "kubernetes");
  const pki = join(dir, "pki");
  return {
    nodeName: node,
    apiServerUrl: APISERVER_URL,
    kubeconfig: join(dir, "kubelet.conf"),
    caCert: join(pki, "ca.crt"),
    client: { cert: join(pki, "kubelet-client.crt"), key: join(pki, "kubelet-client.key") },
    serving: { cert: join(pki, "kubelet.crt"), key: join(pki, "kubelet.key") },
  };
}
