// The lab kubelet's container launch (src/lab/kubelet/launch.ts,
// containers.ts) in a throw-away namespace: the container's root is a
// copy-on-write view of the machine's, with the pod's resolv.conf and hosts,
// volumes at their mountPath (read-only when asked), exec enters it, and
// nothing it writes or mounts is seen outside.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { startContainer, stopContainer } from "../../src/lab/kubelet/containers.ts";
import { execArgv, type LaunchPlan } from "../../src/lab/kubelet/launch.ts";
import { ShellHost } from "../../src/lab/shell-host.ts";
import { Namespaces } from "../support/netns.ts";
import { until } from "../support/until.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

describe("container launch", { skip }, () => {
  const nss = new Namespaces("kl");
  const dir = mkdtempSync("/run/weft-kl-test-");
  const shell = new ShellHost(["/bin/sh", "-s"], join(dir, "exec"));
  after(() => {
    shell.close();
    nss.removeAll();
    if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  });

  const plan = (name: string, extra: Partial<LaunchPlan> = {}): LaunchPlan => {
    const c = join(dir, name);
    writeFileSync(join(dir, "resolv.conf"), "nameserver 10.96.0.10\n");
    writeFileSync(join(dir, "hosts"), "10.244.1.5\tweb-1\n");
    return {
      rootfs: join(c, "rootfs"),
      upper: join(c, "0", "upper"),
      work: join(c, "0", "work"),
      binds: [],
      copies: [
        { target: "/etc/resolv.conf", source: join(dir, "resolv.conf") },
        { target: "/etc/hosts", source: join(dir, "hosts") },
      ],
      workingDir: "/",
      exitFile: join(c, "exit"),
      startedFile: join(c, "started"),
      hostname: name,
      ...extra,
    };
  };

  test("a container sees its files and volumes, and its writes stay in it", async () => {
    const ns = nss.add("pod");
    const vol = join(dir, "vol");
    mkdirSync(vol);
    writeFileSync(join(vol, "key"), "value");
    const p = plan("a", {
      binds: [
        { target: "/var/run/secrets/kubernetes.io/serviceaccount", source: vol, readOnly: true, file: false },
        { target: "/data", source: vol, readOnly: false, file: false },
      ],
      workingDir: "/data",
    });
    const log = join(dir, "a.log");
    const script = [
      "cat /etc/resolv.conf /etc/hosts",
      "cat /var/run/secrets/kubernetes.io/serviceaccount/key; echo",
      "pwd",
      "echo host=$(hostname)",
      "echo written >/etc/weft-kubelet-test-file",
      "echo x >/var/run/secrets/kubernetes.io/serviceaccount/new 2>/dev/null || echo read-only",
      "echo y >/data/from-container",
      "exit 7",
    ].join("; ");
    const started = await startContainer(shell, ns, p, ["sh", "-c", script], { PATH: "/usr/bin:/bin" }, log);
    assert.equal(await started.exited, 7);
    const out = readFileSync(log, "utf8");
    assert.match(out, /^nameserver 10\.96\.0\.10$/m);
    assert.match(out, /^10\.244\.1\.5\tweb-1$/m);
    assert.match(out, /^value$/m);
    assert.match(out, /^\/data$/m);
    assert.match(out, /^host=a$/m);
    assert.match(out, /^read-only$/m);
    assert.equal(readFileSync(join(vol, "from-container"), "utf8"), "y\n");
    assert.equal(existsSync("/etc/weft-kubelet-test-file"), false);
    assert.equal(existsSync("/var/run/secrets/kubernetes.io"), false);
    assert.equal(readFileSync(join(p.upper, "etc/weft-kubelet-test-file"), "utf8"), "written\n");
    assert.equal(readFileSync(p.exitFile, "utf8").trim(), "7");
  });

  test("a container's session gets the CPU weight asked for (autogroup nice), else the default", async () => {
    const ns = nss.add("pod3");
    const run = async (name: string, extra: Partial<LaunchPlan>) => {
      const p = plan(name, extra);
      const started = await startContainer(shell, ns, p, ["cat", "/proc/self/autogroup"], { PATH: "/usr/bin:/bin" }, join(dir, `${name}.log`));
      assert.equal(await started.exited, 0);
      return readFileSync(join(dir, `${name}.log`), "utf8");
    };
    assert.match(await run("best-effort", { cpuNice: 19 }), /^\/autogroup-\d+ nice 19$/m);
    assert.match(await run("burstable", {}), /^\/autogroup-\d+ nice 0$/m);
  });

  test("exec enters a running container; stop ends it with SIGTERM", async () => {
    const ns = nss.add("pod2");
    const p = plan("b");
    const started = await startContainer(shell, ns, p, ["sleep", "1000"], { PATH: "/usr/bin:/bin" }, join(dir, "b.log"));
    // Once the launch shell has made the started file, exec works at the first try.
    await until("the started file", () => existsSync(p.startedFile), 5000, 10);
    const exec = (command: string[]) => {
      const argv = execArgv(started.pid, p.rootfs, "/", command);
      return execFileSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
    };
    assert.match(exec(["cat", "/etc/resolv.conf"]), /nameserver 10\.96\.0\.10/);
    assert.equal(exec(["hostname"]).trim(), "b");
    const t0 = Date.now();
    await stopContainer(started.pid, started.pidStart, 5000);
    assert.ok(Date.now() - t0 < 4000, "sleep ends on SIGTERM");
    assert.equal(await started.exited, 143);
  });
});
