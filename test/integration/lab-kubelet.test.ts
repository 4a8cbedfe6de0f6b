// Every lab node runs a lab kubelet: the real kubectl against a 3-node lab
// sees Ready nodes, Deployments whose pods run with IPs from their node's
// podCIDR and talk across nodes without NAT, exec and logs through the
// kubelet API, port-forward and attach, readiness, a node without CNI configuration, a failing
// ADD, and a kubelet restart that keeps its pods. One lab is shared by the
// tests of the file; they run in order.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readSupervisorReport } from "../../src/lab/daemons.ts";
import { labLayout, nodePaths } from "../../src/lab/layout.ts";
import { hostSnapshot, REAL_AGENT, uniqueLabName, weft, WEFT_BIN, weftOk } from "../../src/lab/testing.ts";
import { spawn, spawnSync } from "node:child_process";
import { kubectlArgv } from "../../src/lab/control/kubectl.ts";
import { readLabState } from "../../src/lab/state.ts";
import { contains, formatIp, parseIp, parsePrefix } from "../../src/lib/ipv4.ts";
import { ROOT } from "../../src/lib/root.ts";
import { until } from "../support/until.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

interface PodJson {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    podIP?: string;
    hostIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; ready: boolean; restartCount: number; containerID?: string; state: Record<string, unknown> }[];
  };
}

describe("lab kubelet", { skip }, () => {
  const name = uniqueLabName("kl");
  const lab = labLayout(name);
  let before_: Record<string, string>;
  const kubectl = (...args: string[]) => weft(["lab", "kubectl", "--name", name, "--", ...args], REAL_AGENT);
  const kubectlOk = async (...args: string[]) => {
    const r = await kubectl(...args);
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const apply = (obj: unknown) => weft(["lab", "kubectl", "--name", name, "--", "apply", "-f", writeManifest(obj)], REAL_AGENT);
  const writeManifest = (obj: unknown) => {
    const file = join(lab.dir, `manifest-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(obj));
    return file;
  };
  const pods = async (selector: string): Promise<PodJson[]> => JSON.parse(await kubectlOk("get", "pods", "-l", selector, "-o", "json")).items as PodJson[];
  const nodeCidrs = async (): Promise<Map<string, string>> => {
    const nodes = JSON.parse(await kubectlOk("get", "nodes", "-o", "json")).items as { metadata: { name: string }; spec: { podCIDR?: string } }[];
    return new Map(nodes.map((n) => [n.metadata.name, n.spec.podCIDR ?? ""]));
  };

  /** kubectl left running (port-forward, attach), as weft lab kubectl runs it; stop() kills it. */
  const startKubectl = async (env: Record<string, string>, ...args: string[]) => {
    const [cmd, ...rest] = kubectlArgv(lab, readLabState(lab), args);
    const child = spawn(cmd!, rest, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.stdin.on("error", () => {});
    return {
      stdout: () => out,
      stderr: () => err,
      write: (text: string) => child.stdin.write(text),
      stop: () => child.kill("SIGKILL"),
    };
  };
  const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

  before(async () => {
    before_ = await hostSnapshot();
    await weftOk(["lab", "up", "--name", name, "--nodes", "3"], REAL_AGENT);
  });
  after(async () => {
    await weft(["lab", "down", "--name", name]);
  });

  test("3 nodes are Ready, each with its own podCIDR inside the pod CIDR", async () => {
    const ready = await until("3 Ready nodes", async () => {
      const out = await kubectlOk("get", "nodes", "-o", 'jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.status.addresses[?(@.type=="InternalIP")].address}{"\\n"}{end}');
      const lines = out.trim().split("\n");
      return lines.length === 3 && lines.every((l) => / True /.test(l)) ? lines : undefined;
    }, 30_000, 250);
    assert.deepEqual(ready.map((l) => l.split(" ")[2]).sort(), ["192.168.125.101", "192.168.125.102", "192.168.125.103"]);
    const cidrs = [...(await nodeCidrs()).values()];
    assert.equal(new Set(cidrs).size, 3, cidrs.join(" "));
    for (const c of cidrs) assert.ok(contains(parsePrefix("10.244.0.0/16"), parsePrefix(c).base), c);
  });

  test("a Deployment's pods run with IPs from their node's podCIDR, spread over nodes, and talk across nodes without NAT", async () => {
    await kubectlOk("create", "deployment", "web", "--image=nginx", "--replicas=4", "--port=80");
    const running = await until("4 Running web pods with IPs", async () => {
      const ps = await pods("app=web");
      return ps.length === 4 && ps.every((p) => p.status.phase === "Running" && p.status.podIP) ? ps : undefined;
    }, 60_000, 250);
    const cidrs = await nodeCidrs();
    for (const p of running) {
      const cidr = parsePrefix(cidrs.get(p.spec.nodeName!)!);
      assert.ok(contains(cidr, parseIp(p.status.podIP!)), `${p.metadata.name} ${p.status.podIP} in ${p.spec.nodeName}'s ${cidrs.get(p.spec.nodeName!)}`);
      assert.equal(p.status.hostIP, `192.168.125.${100 + Number(p.spec.nodeName!.slice(4))}`);
    }
    const nodes = new Set(running.map((p) => p.spec.nodeName));
    assert.ok(nodes.size >= 2, `pods on ${[...nodes].join(", ")}`);
    const [a, b] = [running[0]!, running.find((p) => p.spec.nodeName !== running[0]!.spec.nodeName)!];
    // The built-in server of an image without a command answers with the pod's name and the client address it sees.
    const out = await kubectlOk("exec", a.metadata.name, "--", "bash", "-c", `exec 3<>/dev/tcp/${b.status.podIP}/80; cat <&3`);
    assert.match(out, new RegExp(`^pod=${b.metadata.name} client=${a.status.podIP!.replaceAll(".", "\\.")}:\\d+$`, "m"));
  });

  test("the busybox image's wget reaches a pod, and its timeout works as in the image (-T, --timeout)", async () => {
    const web = await pods("app=web");
    await kubectlOk("run", "fetcher", "--image=busybox", "--restart=Never", "--", "sleep", "3600");
    const fetcher = await until("fetcher Running", async () => {
      const [p] = await pods("run=fetcher");
      return p?.status.phase === "Running" && p.status.podIP ? p : undefined;
    }, 30_000, 250);
    try {
      const target = web.find((p) => p.spec.nodeName !== fetcher.spec.nodeName) ?? web[0]!;
      const got = await kubectl("exec", "fetcher", "--", "wget", "-q", "-T", "5", "-O-", `http://${target.status.podIP}/`);
      assert.equal(got.code, 0, `wget -T: ${got.stderr}`);
      assert.match(got.stdout, new RegExp(`^pod=${target.metadata.name} client=${fetcher.status.podIP!.replaceAll(".", "\\.")}:\\d+$`, "m"));
      // The last address of the target node's podCIDR, which no pod has: the SYN goes unanswered, so wget waits for its timeout.
      const cidr = parsePrefix((await nodeCidrs()).get(target.spec.nodeName!)!);
      const silent = formatIp(cidr.base + 2 ** (32 - cidr.len) - 2);
      const t0 = Date.now();
      const timedOut = await kubectl("exec", "fetcher", "--", "wget", "--spider", "--timeout=1", `http://${silent}/`);
      assert.equal(timedOut.code, 1, `${timedOut.stdout}${timedOut.stderr}`);
      assert.match(timedOut.stderr, /download timed out/);
      assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
    } finally {
      await kubectl("delete", "pod", "fetcher", "--wait=false");
    }
  });

  test("a pod's volume over the directory this checkout lives in does not hide the built-in server from its container", async () => {
    // An emptyDir at the checkout's top directory (/work, /tmp, /home, ...), where the server's executable is on the host.
    const top = `/${ROOT.split("/")[1]}`;
    const r = await apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "shadowed", labels: { app: "shadowed" } },
      spec: { containers: [{ name: "web", image: "nginx", ports: [{ containerPort: 80 }], volumeMounts: [{ name: "w", mountPath: top }] }], volumes: [{ name: "w", emptyDir: {} }] },
    });
    assert.equal(r.code, 0, r.stderr);
    try {
      const [pod] = await until("shadowed Running with its IP", async () => {
        const ps = await pods("app=shadowed");
        return ps[0]?.status.phase === "Running" && ps[0].status.podIP ? ps : undefined;
      }, 30_000, 250);
      const [web] = await pods("app=web");
      const out = await until("the server in shadowed answers", async () => {
        const x = await kubectl("exec", web!.metadata.name, "--", "bash", "-c", `exec 3<>/dev/tcp/${pod!.status.podIP}/80; cat <&3`);
        return x.code === 0 && x.stdout.includes("pod=shadowed") ? x.stdout : undefined;
      }, 20_000, 250);
      assert.match(out, /^pod=shadowed client=/m);
      assert.equal(await kubectlOk("get", "pod", "shadowed", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"), "0");
    } finally {
      await kubectl("delete", "pod", "shadowed", "--wait=false");
    }
  });

  test("kubectl run -i --rm of a debugging image (netshoot) gives its shell, which reaches a pod by name", async () => {
    await kubectlOk("expose", "deployment", "web", "--name=web-one", "--port=80");
    try {
      const script = "echo shell in $(hostname)\ncurl -s -m 5 http://web-one\nexit\n";
      const r = spawnSync(WEFT_BIN, ["lab", "kubectl", "--name", name, "--", "run", "dbg", "--rm", "-i", "--image=nicolaka/netshoot", "--restart=Never"], { input: script, encoding: "utf8", timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^shell in dbg$/m);
      assert.match(r.stdout, /^pod=web-\S+ client=/m);
    } finally {
      await kubectl("delete", "service", "web-one");
    }
  });

  test("kubectl exec shows the pod's resolv.conf; kubectl logs shows a container's output", async () => {
    const [p] = await pods("app=web");
    const resolv = await kubectlOk("exec", p!.metadata.name, "--", "cat", "/etc/resolv.conf");
    assert.match(resolv, /^nameserver 10\.96\.0\.10$/m);
    assert.match(resolv, /^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local$/m);
    assert.match(resolv, /^options ndots:5$/m);
    const failed = await kubectl("exec", p!.metadata.name, "--", "sh", "-c", "exit 3");
    assert.equal(failed.code, 3, failed.stderr);
    // A command a signal ends: 128 + the signal's number (SIGUSR1, 10), as kubelet reports a runtime's.
    const crashed = await kubectl("exec", p!.metadata.name, "--", "sh", "-c", "kill -USR1 $$");
    assert.equal(crashed.code, 138, crashed.stderr);
    // stdin reaches the command, and its end ends it.
    const piped = spawnSync(WEFT_BIN, ["lab", "kubectl", "--name", name, "--", "exec", "-i", p!.metadata.name, "--", "cat"], { input: "through stdin\n", encoding: "utf8", timeout: 30_000 });
    assert.equal(piped.status, 0, piped.stderr);
    assert.equal(piped.stdout, "through stdin\n");

    await kubectlOk("run", "talker", "--image=busybox", "--restart=Never", "--", "sh", "-c", "echo hello from talker; echo on stderr >&2");
    await until("talker Succeeded", async () => (await kubectlOk("get", "pod", "talker", "-o", "jsonpath={.status.phase}")) === "Succeeded", 30_000, 250);
    const logs = await kubectlOk("logs", "talker");
    assert.match(logs, /^hello from talker$/m);
    assert.match(logs, /^on stderr$/m);
  });

  test("kubectl port-forward reaches a pod's port from its own loopback; a closed port is kubectl's error; kubectl attach -i feeds a container's stdin and shows its output", async () => {
    const [p] = await pods("app=web");
    const pod = p!.metadata.name;
    // kubectl listens in the control plane's namespace, where weft lab kubectl runs it; curl asks there.
    const forward = await startKubectl({}, "port-forward", `pod/${pod}`, ":80", ":81");
    try {
      const [local80, local81] = await until("kubectl forwarding two ports", () => {
        const m = [...forward.stdout().matchAll(/Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)/g)];
        const to = (port: string) => m.find((x) => x[2] === port)?.[1];
        return to("80") && to("81") ? [to("80")!, to("81")!] : undefined;
      }, 30_000, 100);
      for (let i = 0; i < 2; i++) {
        const body = spawnSync("ip", ["netns", "exec", lab.controlNs, "curl", "--silent", "--max-time", "10", `http://127.0.0.1:${local80}/`], { encoding: "utf8" });
        assert.equal(body.status, 0, body.stderr);
        // The built-in server answers with the pod's name and the client it sees: the pod's own loopback.
        assert.match(body.stdout, new RegExp(`pod=${pod} client=127\\.0\\.0\\.1:\\d+`));
      }
      const closed = spawnSync("ip", ["netns", "exec", lab.controlNs, "curl", "--silent", "--max-time", "10", `http://127.0.0.1:${local81}/`], { encoding: "utf8" });
      assert.notEqual(closed.status, 0);
      await until("kubectl reports the refused connection", () => /error forwarding port 81 to pod .*ECONNREFUSED/.test(forward.stderr()) || undefined, 10_000, 100);
    } finally {
      forward.stop();
    }
    // kubectl's fallback, SPDY on the upgraded connection itself (what it does when the WebSocket tunnel is refused).
    const spdy = await startKubectl({ KUBECTL_PORT_FORWARD_WEBSOCKETS: "false" }, "port-forward", `pod/${pod}`, ":80");
    try {
      const local = await until("kubectl forwarding over SPDY", () => /Forwarding from 127\.0\.0\.1:(\d+) -> 80/.exec(spdy.stdout())?.[1], 30_000, 100);
      const body = spawnSync("ip", ["netns", "exec", lab.controlNs, "curl", "--silent", "--max-time", "10", `http://127.0.0.1:${local}/`], { encoding: "utf8" });
      assert.equal(body.status, 0, `${body.stderr} ${spdy.stderr()}`);
      assert.match(body.stdout, new RegExp(`pod=${pod} client=127\\.0\\.0\\.1:\\d+`));
    } finally {
      spdy.stop();
    }

    await apply({
      apiVersion: "v1", kind: "Pod", metadata: { name: "echoer" },
      spec: { containers: [{ name: "echo", image: "busybox", stdin: true, command: ["sh", "-c", "echo ready; while read line; do echo \"got $line\"; done"] }] },
    });
    // Its first line in its log before the attach (a BestEffort container runs at the least CPU weight, so not at once on a busy machine).
    await until("echoer wrote ready", async () => (await kubectl("logs", "echoer")).stdout.includes("ready") || undefined, 30_000, 250);
    const attach = await startKubectl({}, "attach", "-i", "echoer", "-c", "echo");
    try {
      // Output written before the attach is not replayed (the log has it); what the container writes from now on is.
      await sleepMs(1500);
      attach.write("hello attach\n");
      await until("the container's answer through attach", () => attach.stdout().includes("got hello attach") || undefined, 20_000, 100);
      assert.doesNotMatch(attach.stdout(), /^ready$/m);
    } finally {
      attach.stop();
    }
    assert.match(await kubectlOk("logs", "echoer"), /^ready\ngot hello attach$/m);
    await kubectlOk("delete", "pod", "echoer", "--wait=false");
  });

  test("a pod whose readiness probe fails is Running but not Ready", async () => {
    const r = await apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "unready" },
      spec: {
        containers: [
          {
            name: "main",
            image: "busybox",
            command: ["sleep", "3600"],
            readinessProbe: { exec: { command: ["false"] }, periodSeconds: 1, failureThreshold: 1 },
          },
        ],
      },
    });
    assert.equal(r.code, 0, r.stderr);
    const pod = await until("unready Running", async () => {
      const p = JSON.parse(await kubectlOk("get", "pod", "unready", "-o", "json")) as PodJson;
      return p.status.phase === "Running" ? p : undefined;
    }, 30_000, 250);
    // Several probe periods later it is still not Ready.
    await new Promise((res) => setTimeout(res, 3000));
    const again = JSON.parse(await kubectlOk("get", "pod", "unready", "-o", "json")) as PodJson;
    assert.equal(again.status.phase, "Running");
    assert.equal(again.status.conditions!.find((c) => c.type === "Ready")!.status, "False");
    assert.equal(again.status.containerStatuses![0]!.ready, false);
    assert.ok(pod.metadata.uid);
  });

  test("a node without a CNI configuration is NotReady and its pod stays Pending; a failing ADD gives FailedCreatePodSandbox with the plugin's message", async () => {
    const conf = nodePaths(lab, "node3").cniConfDir;
    const list = join(conf, "10-weft.conflist");
    renameSync(list, `${list}.off`);
    const message = await until("node3 NotReady", async () => {
      const out = await kubectlOk("get", "node", "node3", "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].message}');
      return out.startsWith("False ") ? out : undefined;
    }, 60_000, 250);
    assert.match(message, /network plugin not initialized|cni plugin not initialized/);
    const r = await apply({ apiVersion: "v1", kind: "Pod", metadata: { name: "stuck" }, spec: { nodeSelector: { "kubernetes.io/hostname": "node3" }, containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"] }] } });
    assert.equal(r.code, 0, r.stderr);
    await new Promise((res) => setTimeout(res, 3000));
    assert.equal(await kubectlOk("get", "pod", "stuck", "-o", "jsonpath={.status.phase}"), "Pending");

    // A configuration whose plugin fails every ADD: weft with a subnet file that does not exist.
    const broken = JSON.parse(readFileSync(`${list}.off`, "utf8")) as { plugins: Record<string, unknown>[] };
    broken.plugins[0]!.subnetFile = join(lab.dir, "no-such-subnet.env");
    writeFileSync(list, JSON.stringify(broken));
    await until("node3 Ready again", async () => (await kubectlOk("get", "node", "node3", "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')) === "True", 60_000, 250);
    const event = await until("FailedCreatePodSandbox", async () => {
      const out = await kubectlOk("get", "events", "--field-selector", "involvedObject.name=stuck,reason=FailedCreatePodSandbox", "-o", "jsonpath={.items[*].message}");
      return out || undefined;
    }, 60_000, 500);
    assert.match(event, /no-such-subnet\.env/);
    assert.equal(await kubectlOk("get", "pod", "stuck", "-o", "jsonpath={.status.phase}"), "Pending");
    await kubectlOk("delete", "pod", "stuck", "--wait=false");
    renameSync(`${list}.off`, list);
  });

  test("a restarted kubelet finds its pods again and does not recreate them", async () => {
    const before = await pods("app=web");
    const onNode1 = before.filter((p) => p.spec.nodeName === "node1");
    const report = readSupervisorReport(lab)!;
    const kubelet = report.processes.find((p) => p.name === "node1-kubelet")!;
    process.kill(kubelet.pid!, "SIGKILL");
    await until("node1's kubelet restarted", () => {
      const p = readSupervisorReport(lab)?.processes.find((x) => x.name === "node1-kubelet");
      return p !== undefined && p.pid !== null && p.pid !== kubelet.pid && p.starts > kubelet.starts;
    }, 30_000, 100);
    // The restarted kubelet posts status again (a heartbeat) and the pods stay as they were.
    await new Promise((res) => setTimeout(res, 3000));
    const after = await pods("app=web");
    for (const p of onNode1) {
      const q = after.find((x) => x.metadata.uid === p.metadata.uid);
      assert.ok(q, `${p.metadata.name} still there`);
      assert.equal(q.status.phase, "Running");
      assert.equal(q.status.containerStatuses![0]!.restartCount, p.status.containerStatuses![0]!.restartCount);
      assert.equal(q.status.containerStatuses![0]!.containerID, p.status.containerStatuses![0]!.containerID);
    }
    // Deleting a pod still works through the new kubelet.
    if (onNode1[0]) {
      await kubectlOk("delete", "pod", onNode1[0].metadata.name, "--timeout=30s");
    }
  });

  test("lab down removes every process, namespace, mount and file, and the host is as before", async () => {
    await weftOk(["lab", "down", "--name", name]);
    assert.equal(existsSync(lab.dir), false);
    assert.deepEqual(readdirSync("/run/netns").filter((ns) => ns.startsWith(`${name}-`)), []);
    // No mount namespace anywhere (a container's) still holds a mount of the lab's files.
    const holders = readdirSync("/proc").filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/mountinfo`, "utf8").includes(lab.dir);
      } catch {
        return false;
      }
    });
    assert.deepEqual(holders, []);
    assert.deepEqual(await hostSnapshot(), before_);
  });
});
