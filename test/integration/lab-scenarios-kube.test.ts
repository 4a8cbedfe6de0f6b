// The lab's failure scenarios on its default, Kubernetes path: a control
// plane, lab kubelets, and weft installed by `kubectl apply -f
// deploy/weft.yaml`, so the agents are the DaemonSet's pods. Each scenario
// gets its own two-node lab: what breaks for pods, and `weft doctor --lab`
// failing the right check with a fix that speaks of weft-config and the
// DaemonSet. Pods are probed from their own network namespaces, not with
// kubectl exec, which wrong-iface breaks on purpose. Every lab is torn down
// in `after`, also when a test fails.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Finding } from "../../src/doctor/finding.ts";
import { createRunner } from "../../src/kernel/runner.ts";
import { podNetnsName } from "../../src/lab/kubelet/sandbox.ts";
import { hostSnapshot, REAL_AGENT, uniqueLabName, weft, weftOk } from "../../src/lab/testing.ts";
import { until } from "../support/until.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

/** A two-node lab with Kubernetes, torn down after its describe. */
function labFor(tag: string) {
  const name = uniqueLabName(tag);
  after(() => weft(["lab", "down", "--name", name]));
  const kubectl = async (...args: string[]) => {
    const r = await weft(["lab", "kubectl", "--name", name, "--", ...args], REAL_AGENT);
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  return {
    name,
    kubectl,
    up: (flags: string[]) => weftOk(["lab", "up", "--name", name, "--nodes", "2", ...flags], REAL_AGENT),
    /** `weft doctor --lab -o json`: its findings and exit status. */
    diagnose: async () => {
      const r = await weft(["doctor", "--lab", name, "-o", "json"], REAL_AGENT);
      return { code: r.code, findings: JSON.parse(r.stdout) as Finding[] };
    },
    /** Starts Pods p1 on node1 and p2 on node2 (Pod objects the lab kubelets run); returns each one's IP and network namespace. */
    pods: async () => {
      await Promise.all(["node1", "node2"].map((node, i) => weftOk(["lab", "run", `p${i + 1}`, "--node", node, "--name", name, "--", "sleep", "600"], REAL_AGENT)));
      const list = JSON.parse(await kubectl("get", "pods", "-n", "default", "-o", "json")) as { items: { metadata: { name: string; uid: string }; status: { podIP: string } }[] };
      return Object.fromEntries(list.items.map((p) => [p.metadata.name, { ip: p.status.podIP, netns: podNetnsName(name, { namespace: "default", name: p.metadata.name, uid: p.metadata.uid }) }]));
    },
    /** True when `ping` from network namespace `ns` to `to` gets an answer. */
    pings: async (ns: string, to: string, extra: string[] = []) => (await createRunner(ns).exec(["ping", "-c", "1", "-w", "1", ...extra, to])).code === 0,
    nodeNs: (node: string) => `${name}-${node}`,
  };
}

/** The failing findings as "node check" keys. */
function failing(findings: readonly Finding[]): string[] {
  return findings.filter((f) => f.status === "fail").map((f) => `${f.node} ${f.check}`);
}

function find(findings: readonly Finding[], node: string, check: string): Finding {
  const f = findings.find((x) => x.node === node && x.check === check);
  assert.ok(f, `no ${check} finding on ${node}`);
  return f;
}

const ROLLOUT = "in ConfigMap kube-system/weft-config, then kubectl -n kube-system rollout restart daemonset/weft";

describe("scenario wrong-iface with Kubernetes", { skip, timeout: 240_000 }, () => {
  const lab = labFor("kwif");
  let pods: Record<string, { ip: string; netns: string }>;

  test("the kubelets register 10.0.2.15, the agents advertise it, pods cannot cross nodes, and doctor names weft-config's iface and --node-ip", async () => {
    await lab.up(["--scenario", "wrong-iface"]);
    const nodes = JSON.parse(await lab.kubectl("get", "nodes", "-o", "json")) as { items: { status: { addresses: { type: string; address: string }[] } }[] };
    assert.deepEqual(nodes.items.map((n) => n.status.addresses.find((a) => a.type === "InternalIP")?.address), ["10.0.2.15", "10.0.2.15"]);
    pods = await lab.pods();
    assert.equal(await lab.pings(pods["p1"]!.netns, pods["p2"]!.ip), false, "pods cross nodes although every node advertises 10.0.2.15");
    const d = await lab.diagnose();
    assert.equal(d.code, 1);
    for (const [node, other] of [["node1", "node2"], ["node2", "node1"]] as const) {
      const f = find(d.findings, node, "public-ip");
      assert.equal(f.status, "fail");
      assert.match(f.message, new RegExp(`^advertises 10\\.0\\.2\\.15 \\(eth0\\), as ${other} does: .*; it is the Node's InternalIP, which the agent takes when told no interface, and Node ${other} has it too: the kubelets registered their default route's address \\(no --node-ip\\)$`));
      assert.ok(f.fix!.startsWith(`eth1 holds ${node === "node1" ? "192.168.125.101" : "192.168.125.102"}, on the network the nodes share: set "iface": ["eth1"] ${ROLLOUT}; and start the kubelets with --node-ip`), f.fix);
      assert.ok(f.fix!.endsWith(`; in this lab: weft lab down --name ${lab.name} && weft lab up --name ${lab.name} --nodes 2 --scenario wrong-iface --iface eth1`), f.fix);
    }
  });

  test("doctor's fix applied to the running cluster (iface in weft-config, a rollout restart) lets pods cross nodes", async () => {
    const cm = JSON.parse(await lab.kubectl("get", "configmap", "-n", "kube-system", "weft-config", "-o", "json")) as { data: { "config.json": string } };
    const config = { ...JSON.parse(cm.data["config.json"]), iface: ["eth1"] };
    await lab.kubectl("patch", "configmap", "-n", "kube-system", "weft-config", "--type", "merge", "-p", JSON.stringify({ data: { "config.json": JSON.stringify(config) } }));
    await lab.kubectl("rollout", "restart", "daemonset/weft", "-n", "kube-system");
    await lab.kubectl("rollout", "status", "daemonset/weft", "-n", "kube-system", "--timeout=120s");
    await until("p1 reaches p2 across nodes", () => lab.pings(pods["p1"]!.netns, pods["p2"]!.ip), 30_000, 500);
    const d = await lab.diagnose();
    assert.match(find(d.findings, "node1", "public-ip").message, /^advertises 192\.168\.125\.101 \(eth1\), which no other node does/);
    assert.deepEqual(failing(d.findings), []);
  });
});

describe("scenario no-forwarding with Kubernetes", { skip, timeout: 180_000 }, () => {
  const lab = labFor("knofwd");

  test("node2 drops pod traffic through it, and doctor says forwarding, and nothing else", async () => {
    const host = await hostSnapshot();
    await lab.up(["--scenario", "no-forwarding"]);
    const pods = await lab.pods();
    // The plugin turned forwarding on for p2's ADD; the scenario's loop turns it off within a second.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await lab.pings(pods["p1"]!.netns, pods["p2"]!.ip), false);
    assert.ok(await lab.pings(lab.nodeNs("node1"), pods["p1"]!.ip), "node1 still reaches its own pod");
    const d = await lab.diagnose();
    assert.equal(d.code, 1);
    assert.deepEqual(failing(d.findings), ["node2 forwarding"]);
    assert.match(find(d.findings, "node2", "forwarding").fix!, new RegExp(`^weft lab exec node2 --name ${lab.name} -- sysctl -w net\\.ipv4\\.ip_forward=1; `));
    assert.deepEqual(await hostSnapshot(), host, "the scenario's sysctl loop stays inside node2");
  });
});

describe("scenario mtu-mismatch with Kubernetes", { skip, timeout: 180_000 }, () => {
  const lab = labFor("kmtu");

  test("the cluster comes up, small packets cross nodes, full-size ones vanish, and doctor measures the path MTU", async () => {
    await lab.up(["--scenario", "mtu-mismatch"]);
    const pods = await lab.pods();
    assert.ok(await lab.pings(pods["p1"]!.netns, pods["p2"]!.ip));
    assert.equal(await lab.pings(pods["p1"]!.netns, pods["p2"]!.ip, ["-M", "do", "-s", "1422"]), false, "a 1450-byte packet got through");
    const d = await lab.diagnose();
    assert.equal(d.code, 1);
    assert.deepEqual(failing(d.findings), ["node1 path node2", "node2 path node1"]);
    const f = find(d.findings, "node1", "path node2");
    assert.match(f.message, /a 1450-byte don't-fragment packet does not: the path to 192\.168\.125\.102 carries 1400-byte packets while eth0 says 1500/);
    assert.ok(f.fix!.endsWith(`so pods get 1350; or set "mtu": 1350 ${ROLLOUT}`), f.fix);
  });
});

describe("scenario overlap with Kubernetes", { skip, timeout: 180_000 }, () => {
  const lab = labFor("koverlap");

  test("192.168.0.0/16 reaches the controller manager and weft-config, pods cannot reach the outside host, and doctor says cluster-cidr", async () => {
    await lab.up(["--scenario", "overlap"]);
    const cm = JSON.parse(await lab.kubectl("get", "configmap", "-n", "kube-system", "weft-config", "-o", "json")) as { data: { "config.json": string } };
    assert.equal(JSON.parse(cm.data["config.json"]).podCidr, "192.168.0.0/16");
    // The controller manager allocates the Nodes' podCIDRs from its --cluster-cidr.
    const nodes = JSON.parse(await lab.kubectl("get", "nodes", "-o", "json")) as { items: { spec: { podCIDR: string } }[] };
    for (const n of nodes.items) assert.match(n.spec.podCIDR, /^192\.168\.\d+\.0\/24$/);
    const pods = await lab.pods();
    assert.match(pods["p1"]!.ip, /^192\.168\./);
    assert.equal(await lab.pings(pods["p1"]!.netns, "192.168.125.1"), false, "un-NATed pod traffic to the outside host came back");
    const d = await lab.diagnose();
    assert.equal(d.code, 1);
    assert.deepEqual(failing(d.findings), ["node1 cluster-cidr", "node2 cluster-cidr"]);
    const f = find(d.findings, "node1", "cluster-cidr");
    assert.match(f.message, /^the cluster CIDR 192\.168\.0\.0\/16 overlaps eth0's network 192\.168\.125\.0\/24 \(this node is 192\.168\.125\.101\)/);
    assert.match(f.fix!, /kube-controller-manager's --cluster-cidr \(kubeadm init --pod-network-cidr\) and "podCidr" in ConfigMap kube-system\/weft-config: set both to 10\.244\.0\.0\/16; a Node's podCIDR never changes/);
    assert.ok(f.fix!.endsWith(`; in this lab: weft lab down --name ${lab.name} && weft lab up --name ${lab.name} --nodes 2 --scenario overlap --pod-cidr 10.244.0.0/16`), f.fix);
  });
});
