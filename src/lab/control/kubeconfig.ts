/**
 * Kubeconfig files, written as JSON: every kubeconfig reader (kubectl,
 * client-go, @kubernetes/client-node) parses YAML, and JSON is YAML, so
 * weft needs no YAML writer for them. Credentials are embedded (`*-data`),
 * as kubeadm does, so a kubeconfig works from any directory.
 */

/** What one kubeconfig says: one cluster, one user, one context. */
export interface KubeconfigSpec {
  /** The cluster's name, also the context's, e.g. "weft-lab". */
  cluster: string;
  /** The API server URL, e.g. https://192.168.125.100:6443. */
  server: string;
  /** The user's name, e.g. "kubernetes-admin". */
  user: string;
  /** PEM of the CA that signed the API server's certificate. */
  caPem: string;
  /** PEM of the user's client certificate and key. */
  certPem: string;
  keyPem: string;
}

/** The kubeconfig for `spec`, as the text of a file. */
export function renderKubeconfig(spec: KubeconfigSpec): string {
  const b64 = (pem: string) => Buffer.from(pem).toString("base64");
  const context = `${spec.user}@${spec.cluster}`;
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: spec.cluster, cluster: { server: spec.server, "certificate-authority-data": b64(spec.caPem) } }],
    users: [{ name: spec.user, user: { "client-certificate-data": b64(spec.certPem), "client-key-data": b64(spec.keyPem) } }],
    contexts: [{ name: context, context: { cluster: spec.cluster, user: spec.user } }],
    "current-context": context,
  };
  return JSON.stringify(config, null, 2) + "\n";
}
