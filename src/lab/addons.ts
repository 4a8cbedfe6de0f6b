/**
 * What the lab puts into its cluster once the API server answers, the way
 * an admin does on a fresh kubeadm cluster:
 *
 *   ConfigMap kube-system/kubeadm-config    the ClusterConfiguration kubeadm
 *                                            uploads (pod and service subnets),
 *                                            where `weft doctor` reads how node
 *                                            CIDRs are allocated
 *   ConfigMap kube-system/kubernetes-services-endpoint
 *                                            the API server's own address, for
 *                                            add-on pods that must reach it
 *                                            before any service proxy runs
 *   deploy/weft-dns.yaml                     cluster DNS (weft dns) at 10.96.0.10,
 *                                            once the add-on runs
 *   deploy/weft.yaml                         the add-on, `kubectl apply`'d with
 *                                            the lab's pod CIDR in weft-config
 *                                            and weft as the service proxy
 *
 * Everything goes through the pinned kubectl in the control plane's
 * namespace, as `weft lab kubectl` runs it.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { WeftError } from "../lib/errors.ts";
import { ROOT } from "../lib/root.ts";
import { kubectlArgv } from "./control/kubectl.ts";
import { APISERVER_PORT } from "./control/paths.ts";
import { CONTROL_IP, type LabLayout } from "./layout.ts";
import type { LabState } from "./state.ts";

/** The add-on manifest in this checkout. */
export const WEFT_MANIFEST = join(ROOT, "deploy/weft.yaml");
/** Lines of deploy/weft.yaml's ConfigMap the lab changes: its pod CIDR, backend and --iface, and weft as the service proxy (the lab runs no kube-proxy). */
const MANIFEST_CHANGES = (state: LabState): [string, string][] => [
  ['"podCidr": "10.244.0.0/16"', `"podCidr": "${state.podCidr}"${state.iface === null ? "" : `,\n      "iface": [${JSON.stringify(state.iface)}]`}`],
  ['"backend": "vxlan"', `"backend": "${state.backend}"`],
  ['"serviceProxy": false', '"serviceProxy": true'],
];

/** Runs kubectl with `args`, `input` on stdin; resolves with stdout, throws KUBECTL_FAILED with its stderr. */
export function kubectl(lab: LabLayout, state: LabState, args: readonly string[], input?: string): Promise<string> {
  const [cmd, ...rest] = kubectlArgv(lab, state, args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, rest, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code) => {
      if (code === 0) resolve(stdout);
      else reject(new WeftError("KUBECTL_FAILED", `kubectl ${args.join(" ")} failed: ${stderr.trim().split("\n").at(-1) ?? `status ${code}`}`));
    });
    child.stdin.on("error", () => {}); // kubectl may exit before reading; its status says why
    child.stdin.end(input ?? "");
  });
}

/** The two ConfigMaps every lab cluster gets (see the file comment). */
export function clusterConfigMaps(state: LabState): Record<string, unknown>[] {
  const clusterConfiguration = [
    "apiVersion: kubeadm.k8s.io/v1beta4",
    "kind: ClusterConfiguration",
    `controlPlaneEndpoint: ${CONTROL_IP}:${APISERVER_PORT}`,
    "networking:",
    "  dnsDomain: cluster.local",
    `  podSubnet: ${state.podCidr}`,
    "  serviceSubnet: 10.96.0.0/12",
    "",
  ].join("\n");
  return [
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "kubeadm-config", namespace: "kube-system" }, data: { ClusterConfiguration: clusterConfiguration } },
    {
      apiVersion: "v1", kind: "ConfigMap", metadata: { name: "kubernetes-services-endpoint", namespace: "kube-system" },
      data: { KUBERNETES_SERVICE_HOST: CONTROL_IP, KUBERNETES_SERVICE_PORT: String(APISERVER_PORT) },
    },
  ];
}

/** deploy/weft.yaml as the lab applies it: with the lab's pod CIDR, and the service proxy on. */
export function weftManifest(state: LabState): string {
  let text = readFileSync(WEFT_MANIFEST, "utf8");
  for (const [from, to] of MANIFEST_CHANGES(state)) {
    if (!text.includes(from)) throw new WeftError("MANIFEST_CHANGED", `${WEFT_MANIFEST} no longer holds ${from} in weft-config`, { hint: "keep the ConfigMap's lines as src/lab/addons.ts expects, or change it with them" });
    text = text.replace(from, to);
  }
  return text;
}

/** The cluster DNS manifest in this checkout. */
export const DNS_MANIFEST = join(ROOT, "deploy/weft-dns.yaml");

/** `kubectl apply -f deploy/weft-dns.yaml`: weft dns behind Service kube-dns at 10.96.0.10, as the lab's cluster DNS. */
export async function applyDns(lab: LabLayout, state: LabState): Promise<void> {
  await kubectl(lab, state, ["apply", "-f", "-"], readFileSync(DNS_MANIFEST, "utf8"));
}
