/**
 * A bare Kubernetes API server for tests that need the API and nothing of a
 * cluster: Debian's etcd and the pinned kube-apiserver, on loopback ports
 * picked free, with a static admin token (no PKI to make: the server
 * generates its own serving certificate) and AlwaysAllow. Components that
 * need RBAC, the controller manager or nodes use the lab cluster instead.
 *
 * Everything lives in one temporary directory; stop() ends both processes
 * and removes it, also after a failed start.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { until } from "./until.ts";

/** A binary of the pinned Kubernetes build (scripts/kubernetes.sh, or the directory WEFT_KUBERNETES_BIN names). */
function kubernetesBinary(name: string): string {
  if (process.env.WEFT_KUBERNETES_BIN) return join(process.env.WEFT_KUBERNETES_BIN, name);
  const bin = spawnSync("sh", [join(import.meta.dirname, "../../scripts/kubernetes.sh")], { encoding: "utf8" });
  if (bin.status !== 0) throw new Error(`the Kubernetes binaries are not built: ${bin.stderr.trim()}`);
  return join(bin.stdout.trim(), name);
}

/** A free TCP port on 127.0.0.1 (free when asked; tests start their servers at once). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A running etcd + kube-apiserver pair. */
export class TestApiServer {
  readonly dir = mkdtempSync(join(tmpdir(), "weft-apiserver-"));
  /** The admin kubeconfig (token auth, the server's self-signed certificate not verified). */
  readonly kubeconfig = join(this.dir, "admin.kubeconfig");
  url = "";
  readonly #procs: ChildProcess[] = [];

  /** Starts both and resolves once /readyz answers ok. */
  async start(): Promise<this> {
    try {
      const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
      const etcd = spawn("etcd", [
        "--data-dir", join(this.dir, "etcd"), "--name", "test",
        "--listen-client-urls", `http://127.0.0.1:${etcdPort}`, "--advertise-client-urls", `http://127.0.0.1:${etcdPort}`,
        "--listen-peer-urls", `http://127.0.0.1:${peerPort}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peerPort}`,
        "--initial-cluster", `test=http://127.0.0.1:${peerPort}`,
      ], { stdio: ["ignore", "ignore", "ignore"] });
      this.#procs.push(etcd);
      const token = randomBytes(16).toString("hex");
      writeFileSync(join(this.dir, "tokens.csv"), `${token},admin,admin,system:masters\n`);
      const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      writeFileSync(join(this.dir, "sa.key"), privateKey.export({ type: "pkcs1", format: "pem" }));
      writeFileSync(join(this.dir, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
      mkdirSync(join(this.dir, "certs"));
      const api = spawn(kubernetesBinary("kube-apiserver"), [
        "--etcd-servers", `http://127.0.0.1:${etcdPort}`,
        "--bind-address", "127.0.0.1", "--secure-port", String(apiPort),
        "--cert-dir", join(this.dir, "certs"), "--token-auth-file", join(this.dir, "tokens.csv"),
        "--authorization-mode", "AlwaysAllow", "--endpoint-reconciler-type", "none",
        "--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", join(this.dir, "sa.pub"),
        "--service-account-signing-key-file", join(this.dir, "sa.key"), "--service-cluster-ip-range", "10.96.0.0/12",
      ], { stdio: ["ignore", "ignore", "pipe"] });
      let log = "";
      api.stderr!.on("data", (d) => (log = (log + d).slice(-4000)));
      this.#procs.push(api);
      this.url = `https://127.0.0.1:${apiPort}`;
      writeFileSync(this.kubeconfig, [
        "apiVersion: v1", "kind: Config", "current-context: test",
        "clusters:", `- name: test`, `  cluster: { server: "${this.url}", insecure-skip-tls-verify: true }`,
        "users:", `- name: admin`, `  user: { token: "${token}" }`,
        "contexts:", `- name: test`, `  context: { cluster: test, user: admin }`, "",
      ].join("\n"));
      await until("the test API server's /readyz", () => {
        if (api.exitCode !== null) throw new Error(`kube-apiserver exited: ${log}`);
        return this.kubectl("get", "--raw", "/readyz").stdout === "ok";
      }, 60_000, 200);
      return this;
    } catch (err) {
      this.stop();
      throw err;
    }
  }

  /** Runs the pinned kubectl against this server. */
  kubectl(...args: string[]) {
    return spawnSync(kubernetesBinary("kubectl"), ["--kubeconfig", this.kubeconfig, ...args], { encoding: "utf8" });
  }

  /** `kubectl create -f -` of one object. */
  create(object: Record<string, unknown>) {
    return spawnSync(kubernetesBinary("kubectl"), ["--kubeconfig", this.kubeconfig, "create", "-f", "-"], { input: JSON.stringify(object), encoding: "utf8" });
  }

  /** A kubeconfig like the admin's whose server is `url` (e.g. a port nothing listens on). */
  kubeconfigFor(url: string): string {
    const path = join(this.dir, `other-${randomBytes(4).toString("hex")}.kubeconfig`);
    writeFileSync(path, readFileSync(this.kubeconfig, "utf8").replace(this.url, url));
    return path;
  }

  stop(): void {
    for (const p of this.#procs.splice(0).reverse()) p.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}
