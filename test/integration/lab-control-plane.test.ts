// `weft lab up` runs a real Kubernetes control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler) in NAME-control at
// 192.168.125.100, and the real kubectl talks to it; `lab down` removes it
// all. One lab is shared by the tests of the file; they run in order.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubeBinary } from "../../src/lab/control/binaries.ts";
import { controlPaths, kubeletCredentials } from "../../src/lab/control/paths.ts";
import { readSupervisorReport, supervisorPid } from "../../src/lab/daemons.ts";
import { WEFT_MANIFEST } from "../../src/lab/addons.ts";
import { labLayout, ownsNamespace } from "../../src/lab/layout.ts";
import { isAlive, pidsInNamespaces } from "../../src/lab/procs.ts";
import { inNetns, uniqueLabName, weft, weftOk } from "../../src/lab/testing.ts";
import { contains, formatIp, parsePrefix } from "../../src/lib/ipv4.ts";
import { until } from "../support/until.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;
const POD_CIDR = "10.50.0.0/16";

describe("lab control plane", { skip }, () => {
  const name = uniqueLabName("cp");
  const lab = labLayout(name);
  const scratch = mkdtempSync(join(tmpdir(), "weft-cp-"));
  const kubectl = (...args: string[]) => weft(["lab", "kubectl", "--name", name, "--", ...args]);
  const kubectlOk = async (...args: string[]) => {
    const r = await kubectl(...args);
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  let upOutput = "";

  before(async () => {
    upOutput = await weftOk(["lab", "up", "--name", name, "--nodes", "2", "--pod-cidr", POD_CIDR]);
  });
  after(async () => {
    await weft(["lab", "down", "--name", name]);
    rmSync(scratch, { recursive: true, force: true });
  });

  test("up says when the API server, controller manager and scheduler were ready", () => {
    assert.match(upOutput, new RegExp(`creating namespaces ${name}-sw, ${name}-outside, ${name}-control, `));
    assert.match(upOutput, /API server ready \d+\.\d s after up began; controller manager and scheduler healthy at \d+\.\d s/);
    assert.ok(existsSync(`/run/netns/${lab.controlNs}`));
  });

  test("kubectl get --raw /readyz answers ok", async () => {
    assert.equal(await kubectlOk("get", "--raw", "/readyz"), "ok");
  });

  test("kubectl's exit status and stderr pass through", async () => {
    const r = await kubectl("get", "pod", "no-such-pod");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /pods "no-such-pod" not found/);
  });

  test("lab kubeconfig prints the admin kubeconfig, whose server is the control plane", async () => {
    const path = (await weftOk(["lab", "kubeconfig", "--name", name])).trim();
    assert.equal(path, controlPaths(lab).adminConf);
    assert.equal(JSON.parse(readFileSync(path, "utf8")).clusters[0].cluster.server, "https://192.168.125.100:6443");
  });

  test("the cluster has its namespaces and the kubernetes Service at 10.96.0.1", async () => {
    const namespaces = (await kubectlOk("get", "ns", "-o", "jsonpath={.items[*].metadata.name}")).split(" ");
    for (const ns of ["default", "kube-system", "kube-public", "kube-node-lease"]) assert.ok(namespaces.includes(ns), `${ns} in ${namespaces.join(" ")}`);
    assert.equal(await kubectlOk("get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP}"), "10.96.0.1");
    assert.equal(await kubectlOk("get", "endpointslice", "-l", "kubernetes.io/service-name=kubernetes", "-o", "jsonpath={.items[0].endpoints[0].addresses[0]}"), "192.168.125.100");
  });

  test("the lab uploads kubeadm's ClusterConfiguration and the API server's own address, as an admin would", async () => {
    const config = await kubectlOk("get", "configmap", "-n", "kube-system", "kubeadm-config", "-o", "jsonpath={.data.ClusterConfiguration}");
    assert.match(config, new RegExp(`^  podSubnet: ${POD_CIDR.replace(".", "\\.")}$`, "m"));
    assert.match(config, /^  serviceSubnet: 10\.96\.0\.0\/12$/m);
    const endpoint = JSON.parse(await kubectlOk("get", "configmap", "-n", "kube-system", "kubernetes-services-endpoint", "-o", "json")).data;
    assert.deepEqual(endpoint, { KUBERNETES_SERVICE_HOST: "192.168.125.100", KUBERNETES_SERVICE_PORT: "6443" });
  });

  test("deploy/weft.yaml is clean in a server-side dry run, and up applied it: one weft pod per node", async () => {
    const out = await kubectlOk("apply", "--dry-run=server", "-f", WEFT_MANIFEST);
    for (const object of ["serviceaccount/weft", "clusterrole.rbac.authorization.k8s.io/weft", "clusterrolebinding.rbac.authorization.k8s.io/weft", "configmap/weft-config", "daemonset.apps/weft"]) {
      assert.match(out, new RegExp(`^${object.replaceAll(".", "\\.")} (created|configured|unchanged) \\(server dry run\\)$`, "m"));
    }
    const ds = JSON.parse(await kubectlOk("get", "daemonset", "-n", "kube-system", "weft", "-o", "json"));
    assert.equal(ds.status.desiredNumberScheduled, 2);
    assert.equal(JSON.parse(ds.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]).kind, "DaemonSet");
  });

  test("streaming lists work: etcd serves the watch-progress requests the API server needs", async () => {
    // With an etcd older than 3.4.31 (Debian's 3.4.23) the API server refuses this with a 500.
    const out = await kubectlOk("get", "--raw", "/api/v1/namespaces/kube-system/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=2");
    const events = out.trim().split("\n").map((l) => JSON.parse(l) as { type: string; object: { metadata: { annotations?: Record<string, string> } } });
    assert.ok(events.some((e) => e.type === "ADDED"), out);
    assert.ok(events.some((e) => e.type === "BOOKMARK" && e.object.metadata.annotations?.["k8s.io/initial-events-end"] === "true"), out);
  });

  test("a Node gets a /24 of the lab's pod CIDR from the controller manager", async () => {
    const manifest = join(scratch, "node.json");
    // Unschedulable, so that the scheduler test below has nowhere to put pods.
    writeFileSync(manifest, JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: "hand-made" }, spec: { unschedulable: true } }));
    await kubectlOk("create", "-f", manifest);
    const cidr = await until("the node's podCIDR", async () => (await kubectlOk("get", "node", "hand-made", "-o", "jsonpath={.spec.podCIDR}")) || undefined, 20_000, 200);
    const p = parsePrefix(cidr);
    assert.equal(p.len, 24, cidr);
    assert.ok(contains(parsePrefix(POD_CIDR), p.base), `${cidr} (${formatIp(p.base)}) inside ${POD_CIDR}`);
  });

  test("a Deployment makes a ReplicaSet whose pods the scheduler binds to the lab's nodes", async () => {
    await kubectlOk("create", "deployment", "web", "--image=nginx", "--replicas=2", "--port=80");
    const rs = await until("the ReplicaSet", async () => (await kubectlOk("get", "rs", "-l", "app=web", "-o", "jsonpath={.items[*].spec.replicas}")) || undefined, 20_000, 200);
    assert.equal(rs, "2");
    // PodScheduled=True and spec.nodeName are written by the scheduler alone (the hand-made node is unschedulable).
    const nodes = await until(
      "2 pods bound to lab nodes",
      async () => {
        const out = await kubectlOk("get", "pods", "-l", "app=web", "-o", 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="PodScheduled")].status}/{.spec.nodeName}{"\\n"}{end}');
        const lines = out.trim().split("\n").filter((l) => l !== "");
        return lines.length === 2 && lines.every((l) => /^True\/node[12]$/.test(l)) ? lines : undefined;
      },
      30_000,
      200,
    );
    assert.equal(nodes.length, 2);
  });

  test("a node's kubeconfig is system:node:NODE, which may register its own Node and no other", async () => {
    const k = kubeletCredentials(lab, "node1");
    const asNode1 = (...args: string[]) => kubectlInControl(name, [`--kubeconfig=${k.kubeconfig}`, ...args]);
    assert.match(await asNode1("auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"), /^system:node:node1 \["system:nodes","system:authenticated"\]$/);
    // node1's lab kubelet registered node1 with these credentials; another name is refused.
    assert.equal(await asNode1("get", "node", "node1", "-o", "jsonpath={.metadata.name}"), "node1");
    writeFileSync(join(scratch, "node9.json"), JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: "node9" } }));
    await assert.rejects(asNode1("create", "-f", join(scratch, "node9.json")), /forbidden: node "node1" is not allowed to modify node "node9"/);
  });

  test("a killed API server is restarted by the supervisor, and the cluster answers again", async () => {
    const before = readSupervisorReport(lab)!.processes.find((p) => p.name === "kube-apiserver")!;
    process.kill(before.pid!, "SIGKILL");
    const after = await until("the API server's restart", () => {
      const p = readSupervisorReport(lab)!.processes.find((x) => x.name === "kube-apiserver")!;
      return p.starts === before.starts + 1 && p.pid !== null ? p : undefined;
    }, 10_000, 100);
    assert.notEqual(after.pid, before.pid);
    await until("/readyz after the restart", async () => (await kubectl("get", "--raw", "/readyz")).stdout === "ok", 60_000, 500);
    assert.match(await kubectlOk("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"), /^2$/);
  });

  test("down removes every process, namespace and file of the control plane", async () => {
    const report = readSupervisorReport(lab)!;
    const pids = [supervisorPid(lab)!, ...report.processes.filter((p) => p.pid !== null).map((p) => p.pid!), ...pidsInNamespaces([lab.controlNs]).get(lab.controlNs)!];
    for (const component of ["control-etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
      assert.ok(report.processes.some((p) => p.name === component && p.pid !== null), `${component} runs`);
    }
    await weftOk(["lab", "down", "--name", name]);
    assert.deepEqual(readdirSync("/run/netns").filter((ns) => ownsNamespace(lab, ns)), []);
    assert.deepEqual(pids.filter(isAlive), []);
    assert.ok(!existsSync(lab.dir));
    const mentions = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(lab.dir);
      } catch {
        return false;
      }
    });
    assert.deepEqual(mentions, [], "no process mentions the lab's directory");
    assert.ok(!readFileSync("/proc/self/mountinfo", "utf8").includes(lab.controlNs), "no mount of the control namespace left");
  });
});

describe("lab --no-kubernetes", { skip }, () => {
  const name = uniqueLabName("nok");
  after(() => weft(["lab", "down", "--name", name]));

  test("has no control plane, and the kubectl verbs say so", async () => {
    await weftOk(["lab", "up", "--no-kubernetes", "--name", name, "--nodes", "1"]);
    assert.ok(!existsSync(`/run/netns/${labLayout(name).controlNs}`));
    for (const argv of [["kubeconfig", "--name", name], ["kubectl", "--name", name, "--", "get", "nodes"]]) {
      const r = await weft(["lab", ...argv]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`^weft: lab ${name} runs no Kubernetes \\(it was made with --no-kubernetes\\); run weft lab down`));
    }
  });
});

test("a pod CIDR the controller manager cannot split into /24s is refused before anything is made", { skip }, async () => {
  const name = uniqueLabName("cidr");
  const r = await weft(["lab", "up", "--name", name, "--pod-cidr", "10.50.0.0/24"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invalid --pod-cidr 10\.50\.0\.0\/24: the controller manager gives each node a \/24 of it/);
  assert.ok(!existsSync(labLayout(name).dir));
});

/** Runs the pinned kubectl with `args` in the lab's control namespace. */
function kubectlInControl(name: string, args: string[]): Promise<string> {
  return inNetns(labLayout(name).controlNs, [kubeBinary("kubectl"), `--cache-dir=${controlPaths(labLayout(name)).kubectlCacheDir}`, ...args]);
}

test("without the Kubernetes build, up says what to run and makes nothing", { skip }, async () => {
  const name = uniqueLabName("nobuild");
  const r = await weft(["lab", "up", "--name", name, "--nodes", "1"], { WEFT_CACHE: "/nonexistent/weft-cache" });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^weft: etcd of Kubernetes v1\.\d+\.\d+ is not built \(no \/nonexistent\/weft-cache\/kubernetes\/v1\.\d+\.\d+\/[0-9a-f]{16}\/bin\/etcd\); run scripts\/setup\.sh/);
  assert.ok(!existsSync(labLayout(name).dir));
  assert.deepEqual(readdirSync("/run/netns").filter((ns) => ownsNamespace(labLayout(name), ns)), []);
});
