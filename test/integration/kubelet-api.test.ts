// The lab kubelet's API server (src/lab/kubelet/server.ts) on loopback with
// a CA, serving and client certificates made here: exec over the
// remotecommand v5 WebSocket protocol into a real container (output
// channels, exit status, stdin with the close signal), container logs with
// tailLines, and a client without a certificate turned away.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import WebSocket from "ws";
import { containerLog, startContainer, stopContainer, type Started } from "../../src/lab/kubelet/containers.ts";
import type { ContainerRecord } from "../../src/lab/kubelet/records.ts";
import { startKubeletServer, type KubeletServer } from "../../src/lab/kubelet/server.ts";
import { ShellHost } from "../../src/lab/shell-host.ts";
import { Namespaces } from "../support/netns.ts";
import { until } from "../support/until.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: "ignore" });
}

describe("kubelet API", { skip }, () => {
  const nss = new Namespaces("ka");
  const dir = mkdtempSync("/run/weft-ka-test-");
  const shell = new ShellHost(["/bin/sh", "-s"], join(dir, "exec"));
  const pki = (n: string) => join(dir, n);
  const pod = { namespace: "demo", name: "web-1", uid: "uid-1" };
  let server: KubeletServer;
  let started: Started;
  let record: ContainerRecord;

  before(async () => {
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", pki("ca.key"), "-out", pki("ca.crt"), "-days", "1", "-subj", "/CN=test-ca"]);
    for (const [n, subj, ext] of [
      ["server", "/CN=node1", "subjectAltName=IP:127.0.0.1"],
      ["client", "/O=system:masters/CN=kube-apiserver-kubelet-client", "extendedKeyUsage=clientAuth"],
      ["stranger", "/CN=stranger", "extendedKeyUsage=clientAuth"],
    ] as const) {
      openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", pki(`${n}.key`), "-out", pki(`${n}.csr`), "-subj", subj]);
      const signer = n === "stranger" ? ["-signkey", pki(`${n}.key`)] : ["-CA", pki("ca.crt"), "-CAkey", pki("ca.key"), "-CAcreateserial"];
      openssl(["x509", "-req", "-in", pki(`${n}.csr`), ...signer, "-out", pki(`${n}.crt`), "-days", "1", "-extfile", "/dev/stdin"].slice(0, -2).concat(["-extfile", writeExt(ext)]));
    }
    const ns = nss.add("pod");
    const c = join(dir, "c");
    const plan = { rootfs: join(c, "rootfs"), upper: join(c, "0/upper"), work: join(c, "0/work"), binds: [], copies: [], workingDir: "/tmp", exitFile: join(c, "exit"), startedFile: join(c, "started"), hostname: "web-1" };
    const log = containerLog(join(dir, "logs"), pod, "main", 0);
    started = await startContainer(shell, ns, plan, ["sh", "-c", "echo one; echo two; echo three; exec sleep 1000"], { PATH: "/usr/bin:/bin" }, log);
    record = { name: "main", init: false, restartCount: 0, pid: started.pid, pidStart: started.pidStart, startedAt: "", terminated: null, lastTerminated: null, rootfs: plan.rootfs, workingDir: "/tmp", env: { PATH: "/usr/bin:/bin" } };
    await until("the container logged", () => readFileSync(log, "utf8").includes("three"), 5000);
    server = await startKubeletServer(
      { tlsCert: pki("server.crt"), tlsKey: pki("server.key"), clientCa: pki("ca.crt"), port: 0, node: { underlayIp: "127.0.0.1" } },
      { find: (n, p) => (n === pod.namespace && p === pod.name ? { pod, record: null, container: (name) => (name === "main" ? record : undefined), started: () => until("the container's root", () => existsSync(plan.startedFile), 5000).then(() => true, () => false) } : undefined), logsDir: join(dir, "logs"), log: () => {} },
    );
  });
  after(async () => {
    await server?.close();
    if (started) await stopContainer(started.pid, started.pidStart, 0);
    shell.close();
    nss.removeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  function writeExt(line: string): string {
    const f = pki(`ext-${Math.random().toString(36).slice(2)}`);
    execFileSync("sh", ["-c", `printf '%s\\n' "$1" >"$2"`, "sh", line, f]);
    return f;
  }

  const tls = (who = "client") => ({ cert: readFileSync(pki(`${who}.crt`)), key: readFileSync(pki(`${who}.key`)), ca: readFileSync(pki("ca.crt")) });

  /** Runs one exec session; returns the messages received, and sends `input` (then the close signal) if given. */
  function exec(query: string, input?: string): Promise<Buffer[]> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${server.port}/exec/demo/web-1/main?${query}`, ["v5.channel.k8s.io", "v4.channel.k8s.io"], tls());
      const got: Buffer[] = [];
      ws.on("open", () => {
        assert.equal(ws.protocol, "v5.channel.k8s.io");
        if (input !== undefined) {
          ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(input)]));
          ws.send(Buffer.from([255, 0]));
        }
      });
      ws.on("message", (m: Buffer) => got.push(Buffer.from(m)));
      ws.on("close", () => resolve(got));
      ws.on("error", reject);
    });
  }

  const channel = (msgs: Buffer[], ch: number) => Buffer.concat(msgs.filter((m) => m[0] === ch).map((m) => m.subarray(1))).toString();

  test("exec runs in the container and ends with its exit status", async () => {
    const q = ["sh", "-c", "pwd; echo err >&2; exit 3"].map((c) => `command=${encodeURIComponent(c)}`).join("&");
    const msgs = await exec(`${q}&output=1&error=1`);
    assert.deepEqual(msgs[0], Buffer.from([1]), "the ready message comes first, empty, on stdout");
    assert.equal(channel(msgs, 1), "/tmp\n");
    assert.equal(channel(msgs, 2), "err\n");
    const status = JSON.parse(channel(msgs, 3));
    assert.equal(status.status, "Failure");
    assert.deepEqual(status.details.causes, [{ reason: "ExitCode", message: "3" }]);
  });

  test("stdin reaches the command until the close signal", async () => {
    const msgs = await exec("command=cat&input=1&output=1&error=1", "through stdin\n");
    assert.equal(channel(msgs, 1), "through stdin\n");
    assert.equal(JSON.parse(channel(msgs, 3)).status, "Success");
  });

  test("a tty session runs on a terminal", async () => {
    const msgs = await exec("command=tty&output=1&tty=1");
    assert.match(channel(msgs, 1), /^\/dev\/pts\/\d+/);
  });

  const get = (path: string, who = "client") =>
    new Promise<{ code: number; body: string }>((resolve, reject) => {
      const r = request({ host: "127.0.0.1", port: server.port, path, ...tls(who) }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ code: res.statusCode ?? 0, body }));
      });
      r.on("error", reject);
      r.end();
    });

  test("logs: the whole log, its tail, and 404 for an unknown pod", async () => {
    assert.deepEqual(await get("/containerLogs/demo/web-1/main"), { code: 200, body: "one\ntwo\nthree\n" });
    assert.deepEqual(await get("/containerLogs/demo/web-1/main?tailLines=2"), { code: 200, body: "two\nthree\n" });
    assert.equal((await get("/containerLogs/demo/web-1/main?previous=true")).code, 400);
    assert.equal((await get("/containerLogs/demo/nope/main")).code, 404);
  });

  test("a client whose certificate is not from the CA is turned away", async () => {
    await assert.rejects(get("/healthz", "stranger"));
    assert.deepEqual(await get("/healthz"), { code: 200, body: "ok\n" });
  });
});
