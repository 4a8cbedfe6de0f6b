import { test } from "node:test";
import assert from "node:assert/strict";
import { labLayout, nodeNs, nodePaths, ownsNamespace, podNs, underlayIp, validateLabName, validatePodName } from "./layout.ts";

test("names and paths follow from the lab name", () => {
  const lab = labLayout("lab");
  assert.equal(lab.dir, "/run/weft/lab/lab");
  assert.equal(lab.switchNs, "lab-sw");
  assert.equal(lab.outsideNs, "lab-outside");
  assert.equal(lab.controlNs, "lab-control");
  assert.equal(nodeNs(lab, "node2"), "lab-node2");
  assert.equal(podNs(lab, "web"), "lab-pod-web");
  assert.equal(underlayIp(3), "192.168.125.103");
  const p = nodePaths(labLayout("blue"), "node1");
  assert.equal(p.subnetFile, "/run/weft/lab/blue/node1/run/subnet.env");
  assert.equal(p.cniConfDir, "/run/weft/lab/blue/node1/cni/net.d");
});

test("a lab owns exactly its own namespaces, never another lab's", () => {
  const lab = labLayout("lab");
  for (const [ns, owned] of [
    ["lab-sw", true],
    ["lab-outside", true],
    ["lab-control", true],
    ["lab-control-sw", false],
    ["lab-pod-control", true],
    ["lab-node1", true],
    ["lab-node12", true],
    ["lab-pod-web", true],
    ["lab-pod-web-2", true],
    ["lab-pod-default.web-7d9c5-xk2lp", true],
    ["lab", false],
    ["lab-", false],
    ["lab-node", false],
    ["lab-nodex", false],
    ["lab2-sw", false],
    ["lab-blue-sw", false],
    ["lab-node1-sw", false],
    ["lab-outside-node1", false],
    ["lab-pod-", false],
    ["other-sw", false],
  ] as const) {
    assert.equal(ownsNamespace(lab, ns), owned, ns);
  }
});

test("lab and pod names are validated", () => {
  for (const ok of ["lab", "a", "blue-2", "t123-topo"]) assert.equal(validateLabName(ok), ok);
  for (const bad of ["", "Lab", "-a", "a-", "a_b", "x".repeat(33), "lab-pod-x", "pod", "my-pod"]) assert.throws(() => validateLabName(bad), /invalid lab name/, bad);
  assert.equal(validatePodName("web-1"), "web-1");
  for (const bad of ["", "Web", "a/b", "x".repeat(64)]) assert.throws(() => validatePodName(bad), /invalid pod name/, bad);
});
