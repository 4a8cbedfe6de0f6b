// weft installed the way the guides install an add-on (seed 001): a lab up
// with --addon none has NotReady nodes and Pending pods; `kubectl apply -f
// deploy/weft.yaml` makes the nodes Ready, one weft pod per node, agents on
// the kubernetes store whose subnets are the Nodes' podCIDRs, and a
// 2-replica Deployment on two nodes whose pods ping each other. Then `weft
// lab smoke` passes, its agent check deleting a weft pod; an agent pod
// deleted keeps pods connected and its replacement takes the same subnet,
// and a Node deleted loses its routes everywhere. One lab is shared
// by the tests of the file; they run in order.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WEFT_MANIFEST, weftManifest } from "../../src/lab/addons.ts";
import { labLayout, nodePaths } from "../../src/lab/layout.ts";
import { readLabState } from "../../src/lab/state.ts";
import type { SmokeReport } from "../../src/lab/smoke/report.ts";
import { REAL_AGENT, uniqueLabName, weft, weftOk } from "../../src/lab/testing.ts";
import { readSubnetFile } from "../../src/subnet/file.ts";
import { formatPrefix } from "../../src/lib/ipv4.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ipIn } from "../support/netns.ts";
import { until } from "../support/until.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

describe("weft as a Kubernetes add-on in the lab", { skip, timeout: 600_000 }, () => {
  const name = uniqueLabName("ad");
  const lab = labLayout(name);
  const kubectl = (...args: string[]) => weft(["lab", "kubectl", "--name", name, "--", ...args], REAL_AGENT);
  const kubectlOk = async (...args: string[]) => {
    const r = await kubectl(...args);
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const json = async (...args: string[]) => JSON.parse(await kubectlOk(...args, "-o", "json"));
  const ready = async () => (await json("get", "nodes")).items.map((n: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }) =>
    [n.metadata.name, n.status.conditions.find((c) => c.type === "Ready")?.status]);
  const weftPods = async () => (await json("get", "pods", "-n", "kube-system", "-l", "app=weft")).items as { metadata: { name: string }; spec: { nodeName: string }; status: { phase: string; conditions?: { type: string; status: string }[] } }[];
  let upOutput = "";

  before(async () => {
    upOutput = await weftOk(["lab", "up", "--name", name, "--nodes", "2", "--addon", "none"], REAL_AGENT);
  });
  after(async () => {
    await weft(["lab", "down", "--name", name]);
  });

  test("with --addon none the nodes are NotReady (no CNI configuration) and a Deployment's pods stay Pending", async () => {
    assert.match(upOutput, /no network add-on: the nodes stay NotReady and pods Pending until one is applied/);
    await until("both Nodes registered", async () => (await ready()).length === 2, 30_000, 200);
    assert.deepEqual(await ready(), [["node1", "False"], ["node2", "False"]]);
    const message = (await json("get", "node", "node1")).status.conditions.find((c: { type: string }) => c.type === "Ready").message;
    assert.match(message, /cni plugin not initialized|network plugin/i);
    // Two replicas on two nodes, as the guide's Deployment lands (anti-affinity makes it certain).
    const deployment = {
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "pinger", namespace: "default" },
      spec: {
        replicas: 2, selector: { matchLabels: { app: "pinger" } },
        template: {
          metadata: { labels: { app: "pinger" } },
          spec: {
            affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: "pinger" } }, topologyKey: "kubernetes.io/hostname" }] } },
            containers: [{ name: "pinger", image: "busybox", command: ["sleep", "3600"] }],
          },
        },
      },
    };
    const file = join(lab.dir, "pinger.json");
    writeFileSync(file, JSON.stringify(deployment));
    await kubectlOk("apply", "-f", file);
    await until("the Deployment's two pods", async () => (await json("get", "pods", "-l", "app=pinger")).items.length === 2, 30_000, 200);
    await new Promise((r) => setTimeout(r, 2000));
    const phases = (await json("get", "pods", "-l", "app=pinger")).items.map((p: { status: { phase: string } }) => p.status.phase);
    assert.deepEqual(phases, ["Pending", "Pending"], "no node can run a pod without a network");
  });

  test("kubectl apply -f deploy/weft.yaml: one weft pod per node, the nodes Ready, the pods Running on both nodes", async () => {
    // The lab's own values (pod CIDR, weft as service proxy) in the manifest users apply.
    const file = join(lab.dir, "weft.yaml");
    writeFileSync(file, weftManifest(readLabState(lab)));
    assert.match(await kubectlOk("apply", "-f", file), /daemonset\.apps\/weft created/);
    await until("both nodes Ready", async () => JSON.stringify(await ready()) === JSON.stringify([["node1", "True"], ["node2", "True"]]), 90_000, 500);
    await until("a Running, Ready weft pod on each node", async () => {
      const pods = await weftPods();
      return pods.length === 2 && pods.every((p) => p.status.phase === "Running" && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
    }, 90_000, 500);
    assert.deepEqual((await weftPods()).map((p) => p.spec.nodeName).sort(), ["node1", "node2"]);
    await until("the pinger pods Running with IPs", async () => {
      const items = (await json("get", "pods", "-l", "app=pinger")).items as { status: { phase: string; podIP?: string } }[];
      return items.length === 2 && items.every((p) => p.status.phase === "Running" && p.status.podIP);
    }, 90_000, 500);
    assert.ok(WEFT_MANIFEST.endsWith("deploy/weft.yaml"));
  });

  test("each agent's subnet is its Node's podCIDR, and kubectl logs says which interface it chose and why", async () => {
    const nodes = (await json("get", "nodes")).items as { metadata: { name: string; annotations: Record<string, string> }; spec: { podCIDR: string } }[];
    for (const n of nodes) {
      const file = readSubnetFile(nodePaths(lab, n.metadata.name).subnetFile);
      assert.equal(formatPrefix(file.subnet), n.spec.podCIDR, n.metadata.name);
      assert.equal(n.metadata.annotations["weft.dev/backend"], "vxlan");
      assert.match(n.metadata.annotations["weft.dev/backend-data"] ?? "", /vtepMac/);
    }
    const pod = (await weftPods()).find((p) => p.spec.nodeName === "node1")!;
    const logs = await kubectlOk("logs", "-n", "kube-system", pod.metadata.name);
    assert.match(logs, /choosing the underlay by 192\.168\.125\.101, the address the kubernetes store records for node1/);
    assert.match(logs, /underlay eth0 192\.168\.125\.101 \(MTU 1500\), vxlan backend, kubernetes store/);
    assert.match(await kubectlOk("exec", "-n", "kube-system", pod.metadata.name, "-c", "weft", "--", "weft", "status", "peers"), /^node2\s+192\.168\.125\.102\s+10\.244\.\d+\.0\/24\s+vxlan\s+programmed$/m);
  });

  test("the two pods ping each other across nodes (seed 001)", async () => {
    const items = (await json("get", "pods", "-l", "app=pinger")).items as { metadata: { name: string }; spec: { nodeName: string }; status: { podIP: string } }[];
    assert.deepEqual(items.map((p) => p.spec.nodeName).sort(), ["node1", "node2"], "the scheduler spread them");
    const [a, b] = [items[0]!, items[1]!];
    assert.match(await kubectlOk("exec", a.metadata.name, "--", "ping", "-c", "2", "-W", "2", b.status.podIP), /2 packets received/);
    assert.match(await kubectlOk("exec", b.metadata.name, "--", "ping", "-c", "2", "-W", "2", a.status.podIP), /2 packets received/);
  });

  test("weft lab smoke passes, its agent check deleting node2's weft pod and waiting for the DaemonSet's replacement, which keeps the subnet", async () => {
    const deleted = (await weftPods()).find((p) => p.spec.nodeName === "node2")!.metadata.name;
    const r = await weft(["lab", "smoke", "--name", name, "-o", "json"], REAL_AGENT);
    const report = JSON.parse(r.stdout) as SmokeReport;
    assert.equal(r.code, 0, `${r.stderr}\n${JSON.stringify(report.checks, null, 1)}`);
    assert.deepEqual(report.checks.filter((c) => c.result !== "pass"), []);
    assert.deepEqual(report.checks.slice(-5).map((c) => c.check), ["agent pod deleted", "pods talk, agent pod replaced", "agent pod back", "subnet kept", "pods talk, agent back"]);
    const row = (check: string) => report.checks.find((c) => c.check === check)!;
    assert.equal(row("agent pod deleted").to, `kube-system/${deleted} (node2)`);
    assert.match(row("agent pod deleted").detail, new RegExp(`^kubectl delete pod -n kube-system ${deleted}; node node2 held 10\\.244\\.\\d+\\.0/24$`));
    const replacement = (await weftPods()).find((p) => p.spec.nodeName === "node2")!.metadata.name;
    assert.notEqual(replacement, deleted, "the DaemonSet made a new pod");
    assert.equal(row("agent pod back").to, `kube-system/${replacement} (node2)`);
    assert.match(row("agent pod back").detail, new RegExp(`^the DaemonSet's replacement for ${deleted}, Running and Ready [\\d.]+ s after the delete$`));
    const podCidr = (await json("get", "node", "node2")).spec.podCIDR as string;
    assert.equal(row("subnet kept").detail, `${replacement} holds ${podCidr}, as before: Node.spec.podCIDR and the subnet file agree`);
    assert.equal(formatPrefix(readSubnetFile(nodePaths(lab, "node2").subnetFile).subnet), podCidr);
    assert.deepEqual((await json("get", "pods", "-l", "app=smoke")).items, [], "smoke removed its pods");
  });

  test("an agent pod deleted: pods keep talking, and its replacement takes the same subnet", async () => {
    const items = (await json("get", "pods", "-l", "app=pinger")).items as { metadata: { name: string }; spec: { nodeName: string }; status: { podIP: string } }[];
    const on1 = items.find((p) => p.spec.nodeName === "node1")!;
    const on2 = items.find((p) => p.spec.nodeName === "node2")!;
    const subnetBefore = formatPrefix(readSubnetFile(nodePaths(lab, "node1").subnetFile).subnet);
    const agent = (await weftPods()).find((p) => p.spec.nodeName === "node1")!;
    await kubectlOk("delete", "pod", "-n", "kube-system", agent.metadata.name, "--wait=false");
    assert.match(await kubectlOk("exec", on2.metadata.name, "--", "ping", "-c", "2", "-W", "2", on1.status.podIP), /2 packets received/, "while the agent is replaced");
    await until("a new Ready weft pod on node1", async () => (await weftPods()).some((p) => p.spec.nodeName === "node1" && p.metadata.name !== agent.metadata.name && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True")), 90_000, 500);
    assert.equal(formatPrefix(readSubnetFile(nodePaths(lab, "node1").subnetFile).subnet), subnetBefore);
    assert.match(await kubectlOk("exec", on2.metadata.name, "--", "ping", "-c", "2", "-W", "2", on1.status.podIP), /2 packets received/);
  });

  test("a Node deleted: its routes are removed from every other node", async () => {
    const cidr2 = (await json("get", "node", "node2")).spec.podCIDR as string;
    assert.match(ipIn(`${name}-node1`, "route"), new RegExp(`^${cidr2.replace(/\./g, "\\.")} via `, "m"));
    await kubectlOk("delete", "node", "node2");
    await until("node2's route gone from node1", () => !new RegExp(`^${cidr2.replace(/\./g, "\\.")} `, "m").test(ipIn(`${name}-node1`, "route")), 30_000, 200);
  });
});
