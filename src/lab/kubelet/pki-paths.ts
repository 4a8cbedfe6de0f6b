/**
 * Where the lab kubelet of a node finds its credentials, as kubeadm leaves
 * them on a node after `kubeadm join` (/etc/kubernetes/kubelet.conf,
 * /var/lib/kubelet/pki), in the node's directory: written by `lab up`.
 */
import { join } from "node:path";
import { nodePaths, type LabLayout } from "../layout.ts";

export interface KubeletPki {
  /** The kubelet's kubeconfig (client identity system:node:NODE). */
  kubeconfig: string;
  /** The serving certificate and key of the kubelet API. */
  servingCert: string;
  servingKey: string;
  /** The lab CA: the API server's client certificate must chain to it; also ca.crt in service-account volumes. */
  caCert: string;
}

/** The credentials of `node`'s kubelet in `lab`. */
export function kubeletPki(lab: LabLayout, node: string): KubeletPki {
  const dir = join(nodePaths(lab, node).dir, "kubernetes");
  const pki = join(dir, "pki");
  return {
    kubeconfig: join(dir, "kubelet.conf"),
    servingCert: join(pki, "kubelet.crt"),
    servingKey: join(pki, "kubelet.key"),
    caCert: join(pki, "ca.crt"),
  };
}
