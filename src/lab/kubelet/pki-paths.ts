/**
 * Where the lab kubelet of a node finds its credentials in the lab's PKI
 * directory (written by the lab's control-plane set-up): its kubeconfig
 * (client identity system:node:NODE), its serving certificate for the
 * kubelet API, and the CA that signs both the API server's client
 * certificate and every other lab certificate.
 */
import { join } from "node:path";
import type { LabLayout } from "../layout.ts";

export interface KubeletPki {
  kubeconfig: string;
  servingCert: string;
  servingKey: string;
  /** The CA a client of the kubelet API must present a certificate from. */
  clientCa: string;
  /** The cluster CA (ca.crt in service-account volumes). */
  clusterCa: string;
}

/** The credentials of `node`'s kubelet in `lab`. */
export function kubeletPki(lab: LabLayout, node: string): KubeletPki {
  const pki = join(lab.dir, "pki");
  return {
    kubeconfig: join(lab.dir, "kubeconfig", `kubelet-${node}.conf`),
    servingCert: join(pki, `kubelet-${node}.crt`),
    servingKey: join(pki, `kubelet-${node}.key`),
    clientCa: join(pki, "ca.crt"),
    clusterCa: join(pki, "ca.crt"),
  };
}
