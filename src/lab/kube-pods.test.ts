import { test } from "node:test";
import assert from "node:assert/strict";
import { execArgs, LAB_RUN_IMAGE, labRunPod, parsePodRef } from "./kube-pods.ts";

test("[NS/]POD names a pod, in namespace default unless given", () => {
  assert.deepEqual(parsePodRef("web"), { namespace: "default", name: "web" });
  assert.deepEqual(parsePodRef("kube-system/weft-abc"), { namespace: "kube-system", name: "weft-abc" });
  for (const bad of ["a/b/c", "/web", "ns/", ""]) assert.throws(() => parsePodRef(bad), { code: "USAGE" }, bad);
});

test("lab run's Pod is bound to its node, runs the command on the machine's filesystem, maps host ports", () => {
  const pod = labRunPod({ name: "web", node: "node2", namespace: "team", labels: { app: "web" }, ports: [{ hostPort: 8081, containerPort: 80, protocol: "tcp" }], command: ["sleep", "1"] }) as {
    metadata: { namespace: string; labels: Record<string, string> };
    spec: { nodeName: string; containers: { image: string; command: string[]; ports: unknown[] }[] };
  };
  assert.equal(pod.spec.nodeName, "node2");
  assert.equal(pod.metadata.namespace, "team");
  assert.deepEqual(pod.metadata.labels, { app: "web" });
  assert.equal(pod.spec.containers[0]!.image, LAB_RUN_IMAGE);
  assert.deepEqual(pod.spec.containers[0]!.command, ["sleep", "1"]);
  assert.deepEqual(pod.spec.containers[0]!.ports, [{ containerPort: 80, hostPort: 8081, protocol: "TCP" }]);
});

test("lab exec is kubectl exec with stdin, and a terminal only when there is one", () => {
  assert.deepEqual(execArgs("ns/p", ["ip", "route"], false), ["exec", "-n", "ns", "p", "-i", "--", "ip", "route"]);
  assert.deepEqual(execArgs("p", ["sh"], true), ["exec", "-n", "default", "p", "-it", "--", "sh"]);
});
