/**
 * The control plane's processes and the one place that knows their flags:
 * etcd (the version the Kubernetes release pins, built beside it),
 * kube-apiserver, kube-controller-manager and kube-scheduler, each a
 * supervised process (lab/supervisor.ts) started with `ip netns exec
 * NAME-control`, with the flags `kubeadm init --pod-network-cidr` would give
 * its static pods.
 *
 * Differences from kubeadm, because this is one machine's lab:
 * - etcd serves plain HTTP on 127.0.0.1 of the control namespace, which only
 *   the API server beside it can reach (kubeadm uses mutual TLS);
 * - leader election is off: there is one of each component;
 * - the controller manager's and the scheduler's API clients may send 200
 *   requests a second, bursts of 400 (defaults 20/30 and 50/100, meant to
 *   spare a shared API server): the lab's API server serves one small
 *   cluster, and at 20 a second a 30-replica Deployment's creates, events and
 *   status updates, and the controller manager's own start (discovery, one
 *   list per informer), wait on the client's token bucket;
 * - the controller manager and the scheduler start once the API server's
 *   /readyz answers (a shell loop in front of them): before its RBAC roles
 *   exist the controller manager exits, and kubelet's restarts of a static
 *   pod would be the supervisor's growing backoff here, which delays the
 *   cluster by seconds.
 */
import { CONTROL_IP, logFile, type LabLayout } from "../layout.ts";
import type { ProcessSpec } from "../supervisor.ts";
import { kubeBinary } from "./binaries.ts";
import { APISERVER_PORT, controlPaths, FRONT_PROXY_CLIENT, SERVICE_CIDR } from "./paths.ts";

/** etcd's client URL inside the control namespace. */
export const CONTROL_ETCD_URL = "http://127.0.0.1:2379";
/** Secure ports of the controller manager and the scheduler (their /healthz), on 127.0.0.1 of the control namespace. */
export const CONTROLLER_MANAGER_PORT = 10257;
export const SCHEDULER_PORT = 10259;

/** The API client rate of the controller manager and the scheduler (see the file comment). */
const CLIENT_RATE = ["--kube-api-qps=200", "--kube-api-burst=400"];

/** The supervised names of the control plane's processes, in start order. */
export const CONTROL_COMPONENTS = ["control-etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;
export type ControlComponent = (typeof CONTROL_COMPONENTS)[number];

/** What the control plane needs to know about the lab. */
export interface ControlPlaneConfig {
  /** The cluster CIDR (`--cluster-cidr`), the lab's pod CIDR. */
  podCidr: string;
  /** The length of each node's podCIDR (`--node-cidr-mask-size`), 24 as the agents lease. */
  nodeCidrLen: number;
}

/** The control plane's supervised processes. */
export function controlPlaneDaemons(lab: LabLayout, config: ControlPlaneConfig): ProcessSpec[] {
  const c = controlPaths(lab);
  const inControl = ["ip", "netns", "exec", lab.controlNs];
  const peer = "http://127.0.0.1:2380";
  const argv: Record<ControlComponent, string[]> = {
    "control-etcd": [
      kubeBinary("etcd"), "--name", "control", "--data-dir", c.etcdDir,
      "--listen-client-urls", CONTROL_ETCD_URL, "--advertise-client-urls", CONTROL_ETCD_URL,
      "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", `control=${peer}`,
    ],
    "kube-apiserver": [
      kubeBinary("kube-apiserver"),
      `--advertise-address=${CONTROL_IP}`,
      `--secure-port=${APISERVER_PORT}`,
      `--etcd-servers=${CONTROL_ETCD_URL}`,
      `--client-ca-file=${c.caCert}`,
      `--tls-cert-file=${c.apiserver.cert}`,
      `--tls-private-key-file=${c.apiserver.key}`,
      `--kubelet-client-certificate=${c.apiserverKubeletClient.cert}`,
      `--kubelet-client-key=${c.apiserverKubeletClient.key}`,
      `--kubelet-certificate-authority=${c.caCert}`,
      "--kubelet-preferred-address-types=InternalIP,Hostname",
      `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
      `--service-account-key-file=${c.saPub}`,
      `--service-account-signing-key-file=${c.saKey}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      "--authorization-mode=Node,RBAC",
      "--enable-admission-plugins=NodeRestriction",
      "--allow-privileged=true",
      `--requestheader-client-ca-file=${c.frontProxyCa.cert}`,
      `--requestheader-allowed-names=${FRONT_PROXY_CLIENT}`,
      "--requestheader-username-headers=X-Remote-User",
      "--requestheader-group-headers=X-Remote-Group",
      "--requestheader-extra-headers-prefix=X-Remote-Extra-",
      `--proxy-client-cert-file=${c.frontProxyClient.cert}`,
      `--proxy-client-key-file=${c.frontProxyClient.key}`,
    ],
    "kube-controller-manager": [
      kubeBinary("kube-controller-manager"),
      `--kubeconfig=${c.controllerManagerConf}`,
      `--authentication-kubeconfig=${c.controllerManagerConf}`,
      `--authorization-kubeconfig=${c.controllerManagerConf}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${CONTROLLER_MANAGER_PORT}`,
      "--leader-elect=false",
      "--use-service-account-credentials=true",
      `--root-ca-file=${c.caCert}`,
      `--service-account-private-key-file=${c.saKey}`,
      `--cluster-signing-cert-file=${c.caCert}`,
      `--cluster-signing-key-file=${c.caKey}`,
      "--allocate-node-cidrs=true",
      `--cluster-cidr=${config.podCidr}`,
      `--node-cidr-mask-size=${config.nodeCidrLen}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      ...CLIENT_RATE,
    ],
    "kube-scheduler": [
      kubeBinary("kube-scheduler"),
      `--kubeconfig=${c.schedulerConf}`,
      `--authentication-kubeconfig=${c.schedulerConf}`,
      `--authorization-kubeconfig=${c.schedulerConf}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${SCHEDULER_PORT}`,
      "--leader-elect=false",
      ...CLIENT_RATE,
    ],
  };
  const afterApiserver = new Set<ControlComponent>(["kube-controller-manager", "kube-scheduler"]);
  return CONTROL_COMPONENTS.map((name) => ({
    name,
    argv: [...inControl, ...(afterApiserver.has(name) ? whenApiserverReady(c.caCert, argv[name]) : argv[name])],
    log: logFile(lab, name),
  }));
}

/** `argv` behind a shell loop that waits for the API server's /readyz; `exec` keeps the pid the supervisor tracks. */
function whenApiserverReady(caCert: string, argv: string[]): string[] {
  const readyz = `https://127.0.0.1:${APISERVER_PORT}/readyz`;
  const script = `until curl --silent --fail --max-time 2 --cacert "$0" ${readyz} >/dev/null; do sleep 0.1; done; exec "$@"`;
  return ["sh", "-c", script, caCert, ...argv];
}
