import { test } from "node:test";
import assert from "node:assert/strict";
import type { Container, Pod } from "../../kube/pod.ts";
import type { ContainerRecord, PodRecord } from "./records.ts";
import { podPhase, podStatus } from "./status.ts";

const c = (name: string) => ({ name, image: "nginx", ports: [] }) as unknown as Container;
const pod = (over: Partial<Pod> = {}): Pod => ({ uid: "u", namespace: "d", name: "p", restartPolicy: "Always", hostNetwork: false, initContainers: [], containers: [c("a")], ...over }) as unknown as Pod;
const run = (name: string, over: Partial<ContainerRecord> = {}): ContainerRecord => ({
  name, init: false, restartCount: 0, pid: 10, pidStart: "1", startedAt: "2026-01-01T00:00:00Z", terminated: null, lastTerminated: null, rootfs: "/r", workingDir: "/", env: {}, ...over,
});
const ended = (code: number) => ({ pid: null, pidStart: null, terminated: { exitCode: code, reason: code === 0 ? "Completed" : "Error", startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:00:01Z" } });
const record = (containers: ContainerRecord[], network: string | null = "weft"): PodRecord => ({
  uid: "u", namespace: "d", name: "p", hostNetwork: false, netns: "lab-pod-d.p", sandboxId: "s", network, ip: "10.244.1.5", createdAt: "2026-01-01T00:00:00Z", prepared: true, portMappings: [], containers,
});

test("phase follows kubelet's rules", () => {
  const cases: [string, Pod, PodRecord | null, string][] = [
    ["no record", pod(), null, "Pending"],
    ["no sandbox", pod(), record([], null), "Pending"],
    ["init running", pod({ initContainers: [c("i")] }), record([run("i", { init: true })]), "Pending"],
    ["init failed, Never", pod({ initContainers: [c("i")], restartPolicy: "Never" }), record([run("i", { init: true, ...ended(1) })]), "Failed"],
    ["container not started", pod({ containers: [c("a"), c("b")] }), record([run("a")]), "Pending"],
    ["running", pod(), record([run("a")]), "Running"],
    ["ended, Always restarts", pod(), record([run("a", ended(0))]), "Running"],
    ["ended 0, Never", pod({ restartPolicy: "Never" }), record([run("a", ended(0))]), "Succeeded"],
    ["ended 1, Never", pod({ restartPolicy: "Never" }), record([run("a", ended(1))]), "Failed"],
    ["ended 1, OnFailure restarts", pod({ restartPolicy: "OnFailure" }), record([run("a", ended(1))]), "Running"],
    ["ended 0, OnFailure", pod({ restartPolicy: "OnFailure" }), record([run("a", ended(0))]), "Succeeded"],
  ];
  for (const [what, p, r, want] of cases) assert.equal(podPhase(p, r), want, what);
});

test("readiness decides Ready; restart counts and IPs are reported", () => {
  const transitions = new Map();
  const inputs = { pod: pod(), record: record([run("a", { restartCount: 2 })]), hostIp: "192.168.125.101", ready: new Set<string>(), waiting: new Map(), sandboxError: null };
  const notReady = podStatus(inputs, transitions) as { phase: string; podIP: string; conditions: { type: string; status: string }[]; containerStatuses: { ready: boolean; restartCount: number; state: object }[] };
  assert.equal(notReady.phase, "Running");
  assert.equal(notReady.podIP, "10.244.1.5");
  assert.equal(notReady.conditions.find((x) => x.type === "Ready")!.status, "False");
  assert.equal(notReady.containerStatuses[0]!.restartCount, 2);
  assert.deepEqual(notReady.containerStatuses[0]!.state, { running: { startedAt: "2026-01-01T00:00:00Z" } });
  const ready = podStatus({ ...inputs, ready: new Set(["a"]) }, transitions) as typeof notReady;
  assert.equal(ready.conditions.find((x) => x.type === "Ready")!.status, "True");
  // Unchanged inputs give the same text, so no patch is sent again.
  assert.equal(JSON.stringify(podStatus({ ...inputs, ready: new Set(["a"]) }, transitions)), JSON.stringify(ready));
});
