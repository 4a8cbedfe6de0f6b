import { test } from "node:test";
import assert from "node:assert/strict";
import type { AgentStatus } from "../../agent/status.ts";
import type { Cluster } from "../facts.ts";
import { fakeCluster, fakeKubeCluster } from "../testing.ts";
import { flagValue, podSubnetOf, type KubeFacts } from "../kube-facts.ts";
import { checkKubernetes } from "./kubernetes.ts";

const kube = (c: Cluster) => (c.kubernetes as { ok: true; value: KubeFacts }).value;
const status = (c: Cluster, k = 0) => (c.nodes[k]!.agent.status as { ok: true; value: AgentStatus }).value;

const cases: [name: string, breakIt: (c: Cluster) => void, status: "ok" | "warn" | "fail" | null, message: RegExp, fix?: RegExp][] = [
  ["a healthy node", () => {}, "ok", /^Node node1: podCIDR 10\.244\.1\.0\/24 in 10\.244\.0\.0\/16, the subnet file and the weft\.dev annotations agree$/],
  ["not on the kubernetes store: nothing to say", (c) => (status(c).store.name = "etcd"), null, /./],
  ["the cluster cannot be read", (c) => (c.kubernetes = { ok: false, error: "connect ECONNREFUSED 10.96.0.1:443" }), "fail", /cannot read the cluster: connect ECONNREFUSED/, /--kubeconfig/],
  ["no Node of the agent's name", (c) => (status(c).node = "node1.example"), "fail", /runs as node node1\.example, and the cluster has no Node of that name/, /--node-name/],
  ["the kubeadm mistake: --pod-cidr differs from --cluster-cidr", (c) => (kube(c).allocation!.clusterCidr = "10.100.0.0/16"), "fail",
    /weft's cluster CIDR 10\.244\.0\.0\/16 is not kube-controller-manager's --cluster-cidr 10\.100\.0\.0\/16 \(kube-system\/kubeadm-config\)/, /"podCidr" .* to 10\.100\.0\.0\/16/],
  ["no Node has a podCIDR, and the controller manager does not allocate", (c) => {
    for (const n of kube(c).nodes) n.podCidrs = [];
    kube(c).allocation = { clusterCidr: null, allocateNodeCidrs: false, source: "kube-system/kube-controller-manager-cp" };
  }, "fail", /Node node1 has no spec\.podCIDR \(kube-controller-manager runs without --allocate-node-cidrs \(kube-system\/kube-controller-manager-cp\)\)/, /--allocate-node-cidrs --cluster-cidr=10\.244\.0\.0\/16 \(kubeadm init --pod-network-cidr=10\.244\.0\.0\/16\)/],
  ["no Node has a podCIDR, allocation unknown", (c) => {
    for (const n of kube(c).nodes) n.podCidrs = [];
    kube(c).allocation = null;
  }, "fail", /no Node has one: kube-controller-manager is not allocating node CIDRs/, /--allocate-node-cidrs/],
  ["only this Node lacks a podCIDR", (c) => (kube(c).nodes[0]!.podCidrs = []), "fail", /has not allocated one to it yet/, /kube-controller-manager's log/],
  ["a podCIDR outside the cluster CIDR, allocation unknown", (c) => {
    kube(c).allocation = null;
    kube(c).nodes[0]!.podCidrs = ["10.100.1.0/24"];
  }, "fail", /Node node1's podCIDR 10\.100\.1\.0\/24 is outside weft's cluster CIDR 10\.244\.0\.0\/16/],
  ["the agent uses another subnet than the podCIDR", (c) => (status(c).subnet = "10.244.9.0/24"), "fail", /the agent uses 10\.244\.9\.0\/24, and Node node1's spec\.podCIDR is 10\.244\.1\.0\/24/],
  ["the subnet file names another subnet", (c) => (c.nodes[0]!.cni.subnetFile = { ok: true, value: "WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.7.1/24\nWEFT_MTU=1450\nWEFT_IPMASQ=true\n" }), "fail",
    /gives pods addresses of 10\.244\.7\.0\/24, and Node node1's spec\.podCIDR is 10\.244\.1\.0\/24/],
  ["no annotations published", (c) => (kube(c).nodes[0]!.weft = {}), "fail", /carries no weft\.dev\/public-ip and weft\.dev\/backend annotations/, /agent's log/],
  ["stale annotations", (c) => (kube(c).nodes[0]!.weft["public-ip"] = "192.168.125.199"), "warn", /\(192\.168\.125\.199, vxlan\) are not what its agent uses \(192\.168\.125\.101, vxlan\)/],
];

for (const [name, breakIt, want, message, fix] of cases) {
  test(`kubernetes check: ${name}`, () => {
    const c = fakeKubeCluster(3);
    breakIt(c);
    const findings = checkKubernetes(c.nodes[0]!, c);
    if (want === null) return assert.deepEqual(findings, []);
    const f = findings.find((x) => x.status === want);
    assert.ok(f, JSON.stringify(findings));
    assert.match(f.message, message);
    if (fix) assert.match(f.fix ?? "", fix);
  });
}

test("a cluster doctor was not pointed at adds no finding", () => {
  const c = fakeCluster(2);
  status(c).store.name = "kubernetes";
  assert.deepEqual(checkKubernetes(c.nodes[0]!, c), []);
});

test("flags and kubeadm's podSubnet are read as kube-controller-manager and kubeadm write them", () => {
  const args = ["kube-controller-manager", "--allocate-node-cidrs=true", "--cluster-cidr", "10.244.0.0/16", "--leader-elect"];
  assert.equal(flagValue(args, "allocate-node-cidrs"), "true");
  assert.equal(flagValue(args, "cluster-cidr"), "10.244.0.0/16");
  assert.equal(flagValue(args, "leader-elect"), "true");
  assert.equal(flagValue(args, "node-cidr-mask-size"), undefined);
  assert.equal(podSubnetOf("apiVersion: kubeadm.k8s.io/v1beta4\nnetworking:\n  dnsDomain: cluster.local\n  podSubnet: 10.244.0.0/16\n  serviceSubnet: 10.96.0.0/12\n"), "10.244.0.0/16");
  assert.equal(podSubnetOf("networking:\n  serviceSubnet: 10.96.0.0/12\n"), null);
});
