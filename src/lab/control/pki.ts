/**
 * The lab's credentials, made the way kubeadm's `certs` and `kubeconfig`
 * phases make a cluster's: one CA per lab, serving and client certificates
 * signed by it, a front-proxy CA and the API server's front-proxy client
 * certificate (request-header authentication, which the controller manager
 * and the scheduler look up, and aggregated APIs use), a service-account key
 * pair, and kubeconfigs for the admin, the controller manager, the
 * scheduler and every node's kubelet.
 *
 * Keys are ECDSA P-256, made in-process with node:crypto (every Kubernetes
 * component accepts them, and they take a millisecond). Certificates are
 * signed by Debian's `openssl`: Node.js can read X.509 but not issue it, and
 * one openssl process per certificate (about 10 ms, run in parallel) beats
 * hand-writing DER or adding a dependency for a lab. Everything is written
 * under the lab's directory (control/paths.ts); private keys are 0600.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { createRunner } from "../../kernel/runner.ts";
import { WeftError } from "../../lib/errors.ts";
import { CONTROL_IP, type LabLayout } from "../layout.ts";
import type { LabNode } from "../state.ts";
import { renderKubeconfig } from "./kubeconfig.ts";
import { APISERVER_URL, CLUSTER_DOMAIN, controlPaths, FRONT_PROXY_CLIENT, KUBERNETES_SERVICE_IP, kubeletCredentials, type CertPair } from "./paths.ts";

/** How long the lab's certificates are valid; a lab lives for hours. */
const VALID_DAYS = 365;

/** One certificate to issue; usage "ca" makes a self-signed certificate authority. */
export interface CertSpec {
  /** Subject CN, e.g. "system:node:node1". */
  cn: string;
  /** Subject O (the Kubernetes group), e.g. "system:nodes". */
  org?: string;
  usage: "serverAuth" | "clientAuth" | "ca";
  /** DNS names and IP addresses, for serving certificates. */
  dns?: string[];
  ips?: string[];
}

/** The openssl configuration that issues `spec`. */
export function opensslConfig(spec: CertSpec): string {
  const dn = [...(spec.org ? [`O = ${spec.org}`] : []), `CN = ${spec.cn}`];
  const ext =
    spec.usage === "ca"
      ? ["basicConstraints = critical,CA:TRUE", "keyUsage = critical,digitalSignature,keyEncipherment,keyCertSign", "subjectKeyIdentifier = hash"]
      : [
          "basicConstraints = critical,CA:FALSE",
          "keyUsage = critical,digitalSignature,keyEncipherment",
          `extendedKeyUsage = ${spec.usage}`,
          "authorityKeyIdentifier = keyid",
          ...(spec.dns?.length || spec.ips?.length
            ? [`subjectAltName = ${[...(spec.dns ?? []).map((d) => `DNS:${d}`), ...(spec.ips ?? []).map((i) => `IP:${i}`)].join(",")}`]
            : []),
        ];
  return ["[req]", "distinguished_name = dn", "prompt = no", "x509_extensions = ext", "[dn]", ...dn, "[ext]", ...ext, ""].join("\n");
}

/** The API server's serving certificate: every name and address a client may dial it by. */
export function apiserverCertSpec(lab: LabLayout): CertSpec {
  return {
    cn: "kube-apiserver",
    usage: "serverAuth",
    dns: ["kubernetes", "kubernetes.default", "kubernetes.default.svc", `kubernetes.default.svc.${CLUSTER_DOMAIN}`, lab.controlNs, "localhost"],
    ips: [CONTROL_IP, KUBERNETES_SERVICE_IP, "127.0.0.1"],
  };
}

/**
 * Writes every credential of lab `lab` and its `nodes`: the CA, the API
 * server's certificates, the service-account keys, the kubeconfigs of the
 * admin, controller manager and scheduler, and each node's kubelet
 * credentials (see kubeletCredentials in paths.ts).
 */
export async function writeLabPki(lab: LabLayout, nodes: readonly LabNode[]): Promise<void> {
  const c = controlPaths(lab);
  mkdirSync(c.pkiDir, { recursive: true });
  const makeCa = async (ca: CertPair, cn: string) => {
    writeKey(ca.key);
    await openssl(["req", "-new", "-x509", "-key", ca.key, "-days", String(VALID_DAYS), "-out", ca.cert], opensslConfig({ cn, usage: "ca" }));
  };
  const clusterCa = { cert: c.caCert, key: c.caKey };
  await Promise.all([makeCa(clusterCa, `weft-${lab.name}-ca`), makeCa(c.frontProxyCa, `weft-${lab.name}-front-proxy-ca`)]);
  const caPem = readFileSync(c.caCert, "utf8");

  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  writeFileSync(c.saKey, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  writeFileSync(c.saPub, publicKey.export({ type: "spki", format: "pem" }));

  const issue = async (pair: CertPair, spec: CertSpec, ca: CertPair = clusterCa) => {
    mkdirSync(dirname(pair.cert), { recursive: true });
    writeKey(pair.key);
    await openssl(["req", "-new", "-x509", "-key", pair.key, "-CA", ca.cert, "-CAkey", ca.key, "-days", String(VALID_DAYS), "-out", pair.cert], opensslConfig(spec));
  };
  const kubeconfig = async (file: string, user: string, org?: string) => {
    const base = join(c.pkiDir, basename(file, ".conf"));
    const pair = { cert: `${base}.crt`, key: `${base}.key` };
    await issue(pair, { cn: user, ...(org ? { org } : {}), usage: "clientAuth" });
    writeKubeconfig(file, lab, user, caPem, pair);
  };

  await Promise.all([
    issue(c.apiserver, apiserverCertSpec(lab)),
    issue(c.apiserverKubeletClient, { cn: "kube-apiserver-kubelet-client", org: "system:masters", usage: "clientAuth" }),
    issue(c.frontProxyClient, { cn: FRONT_PROXY_CLIENT, usage: "clientAuth" }, c.frontProxyCa),
    kubeconfig(c.adminConf, "kubernetes-admin", "system:masters"),
    kubeconfig(c.controllerManagerConf, "system:kube-controller-manager"),
    kubeconfig(c.schedulerConf, "system:kube-scheduler"),
    ...nodes.map(async (n) => {
      const k = kubeletCredentials(lab, n.name);
      mkdirSync(dirname(k.caCert), { recursive: true });
      writeFileSync(k.caCert, caPem);
      const identity = { cn: `system:node:${n.name}`, org: "system:nodes" };
      await Promise.all([
        issue(k.client, { ...identity, usage: "clientAuth" }),
        issue(k.serving, { ...identity, usage: "serverAuth", dns: [n.name], ips: [n.underlayIp] }),
      ]);
      writeKubeconfig(k.kubeconfig, lab, identity.cn, caPem, k.client);
    }),
  ]);
}

function writeKubeconfig(file: string, lab: LabLayout, user: string, caPem: string, pair: CertPair): void {
  const text = renderKubeconfig({
    cluster: `weft-${lab.name}`,
    server: APISERVER_URL,
    user,
    caPem,
    certPem: readFileSync(pair.cert, "utf8"),
    keyPem: readFileSync(pair.key, "utf8"),
  });
  writeFileSync(file, text, { mode: 0o600 });
}

/** Writes a new ECDSA P-256 private key (PKCS#8 PEM, mode 0600) to `file`. */
function writeKey(file: string): void {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  writeFileSync(file, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
}

/** Runs `openssl ARGS -config FILE`, FILE holding `config` beside the output (the last argument) while it runs. */
async function openssl(args: string[], config: string): Promise<void> {
  const out = args.at(-1)!;
  const configFile = `${out}.cnf`;
  writeFileSync(configFile, config);
  let r;
  try {
    r = await createRunner().exec(["openssl", ...args, "-config", configFile]);
  } catch (err) {
    throw new WeftError("PKI_FAILED", "cannot run openssl to sign the lab's certificates", { hint: "install Debian's openssl (scripts/setup.sh does)", cause: err });
  } finally {
    rmSync(configFile, { force: true });
  }
  if (r.code !== 0) {
    throw new WeftError("PKI_FAILED", `openssl ${args.slice(0, 3).join(" ")} failed making ${out}: ${r.stderr.trim().split("\n")[0] ?? `exit status ${r.code}`}`);
  }
}
