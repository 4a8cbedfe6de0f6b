// The lab kubelet's pod worker (src/lab/kubelet/pod-worker.ts) with the API
// replaced by recorders: hostNetwork pods in a throw-away "node" namespace
// (so no CNI is involved) go through init containers, containers, restarts
// per restartPolicy, probes, volumes and deletion, and a second worker
// adopts a running pod without restarting it.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Container, Pod } from "../../src/kube/pod.ts";
import { kubeletConfig, type KubeletConfig } from "../../src/lab/kubelet/config.ts";
import { containerLog } from "../../src/lab/kubelet/containers.ts";
import { PodWorker, type WorkerDeps } from "../../src/lab/kubelet/pod-worker.ts";
import { readPodRecords } from "../../src/lab/kubelet/records.ts";
import { isAlive } from "../../src/lab/procs.ts";
import { labLayout } from "../../src/lab/layout.ts";
import { ShellHost } from "../../src/lab/shell-host.ts";
import { Namespaces } from "../support/netns.ts";
import { until } from "../support/until.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

/** The pids of process group `pgid` (field 5 of /proc/PID/stat, counted after the command's closing parenthesis). */
function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === pgid) pids.push(Number(d));
    } catch {
      // It ended meanwhile.
    }
  }
  return pids;
}

describe("pod worker", { skip }, () => {
  const nss = new Namespaces("kw");
  const dir = mkdtempSync("/run/weft-kw-test-");
  const shell = new ShellHost(["/bin/sh", "-s"], join(dir, "exec"));
  const workers: PodWorker[] = [];
  after(async () => {
    for (const w of workers) w.remove();
    await until("workers done", () => done.size >= workers.length, 10_000).catch(() => {});
    shell.close();
    nss.removeAll();
    rmSync(dir, { recursive: true, force: true });
  });
  const done = new Set<string>();
  const statuses = new Map<string, Record<string, unknown>[]>();
  const events: { pod: string; reason: string; message: string }[] = [];
  const finalized: string[] = [];
  let cfg: KubeletConfig;

  const deps = (): WorkerDeps => ({
    cfg,
    images: { busyboxBin: "/nonexistent", agnhost: null, weft: "/nonexistent/bin/weft", portServer: "/nonexistent/weft-port-server" },
    shell,
    // hostNetwork pods run no CNI plugin: this shell host is never started.
    viewShell: new ShellHost(["/bin/sh", "-s"], join(dir, "exec-view")),
    volumes: {
      configMap: async (_ns, name) => (name === "cfg" ? new Map([["color", Buffer.from("blue")]]) : null),
      secret: async () => null,
      token: async () => "a-token",
    },
    lookup: async () => null,
    patchStatus: async (pod, status) => {
      const list = statuses.get(pod.name) ?? [];
      list.push(status);
      statuses.set(pod.name, list);
    },
    finalize: async (pod) => {
      finalized.push(pod.name);
    },
    event: (pod, _type, reason, message) => events.push({ pod: pod.name, reason, message }),
    log: () => {},
    nodeResolvConf: "nameserver 192.168.125.1\n",
    done: (uid) => done.add(uid),
  });

  const container = (name: string, command: string[], over: Partial<Container> = {}): Container => ({
    name, image: "local/host", command, args: null, workingDir: null, env: [], envFrom: [], ports: [], volumeMounts: [], readinessProbe: null, livenessProbe: null, ...over,
  });
  const pod = (name: string, over: Partial<Pod>): Pod => ({
    uid: `uid-${name}`, namespace: "demo", name, labels: {}, nodeName: "node1", deletionTimestamp: null, deletionGracePeriodSeconds: null, terminationGracePeriodSeconds: 2,
    restartPolicy: "Always", dnsPolicy: "ClusterFirstWithHostNet", hostNetwork: true, hostname: null, subdomain: null, serviceAccountName: "default",
    initContainers: [], containers: [], volumes: [], phase: null, qosClass: null, ...over,
  });
  const last = (name: string) => statuses.get(name)?.at(-1) as { phase?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { restartCount: number; ready: boolean; state: Record<string, unknown> }[] } | undefined;
  const start = (p: Pod) => {
    const w = new PodWorker(p, null, deps());
    workers.push(w);
    w.kick();
    return w;
  };

  test("init containers run in order, then the containers; files and volumes are in place", async () => {
    const ns = nss.add("node");
    cfg = { ...kubeletConfig(labLayout("kwtest"), { name: "node1", index: 1, netns: ns, underlayIp: "192.168.125.101" }, "10.244.0.0/16"), nodeNs: ns, podsDir: join(dir, "pods"), logsDir: join(dir, "logs"), rootDir: dir, hostRoot: join(dir, "host") };
    const p = pod("ordered", {
      restartPolicy: "Never",
      volumes: [
        { name: "shared", kind: "emptyDir" },
        { name: "conf", kind: "configMap", source: "cfg", items: null, optional: false },
        { name: "token", kind: "projected", sources: [{ kind: "serviceAccountToken", path: "token", expirationSeconds: 3600, audience: null }, { kind: "downwardAPI", items: [{ path: "namespace", fieldRef: "metadata.namespace" }] }] },
      ],
      initContainers: [container("first", ["sh", "-c", "echo first >/work/order"], { volumeMounts: [{ name: "shared", mountPath: "/work", readOnly: false, subPath: null }] })],
      containers: [
        container("main", ["sh", "-c", "cat /work/order /etc/resolv.conf /conf/color; echo; cat /var/run/secrets/kubernetes.io/serviceaccount/token; echo; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace"], {
          volumeMounts: [
            { name: "shared", mountPath: "/work", readOnly: false, subPath: null },
            { name: "conf", mountPath: "/conf", readOnly: true, subPath: null },
            { name: "token", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true, subPath: null },
          ],
        }),
      ],
    });
    start(p);
    await until("ordered Succeeded", () => last("ordered")?.phase === "Succeeded", 15_000, 50);
    const out = readFileSync(containerLog(cfg.logsDir, p, "main", 0), "utf8");
    assert.match(out, /^first$/m);
    assert.match(out, /^search demo\.svc\.cluster\.local svc\.cluster\.local cluster\.local$/m);
    assert.match(out, /^blue$/m);
    assert.match(out, /^a-token$/m);
    assert.match(out, /^demo$/m);
    const phases = statuses.get("ordered")!.map((s) => s.phase);
    assert.equal(phases[0], "Pending");
  });

  test("a BestEffort pod's containers run at the least CPU weight, a Burstable pod's at the default", async () => {
    const weight = async (name: string, qosClass: string) => {
      const p = pod(name, { restartPolicy: "Never", qosClass, containers: [container("c", ["cat", "/proc/self/autogroup"])] });
      start(p);
      await until(`${name} Succeeded`, () => last(name)?.phase === "Succeeded", 10_000, 50);
      return readFileSync(containerLog(cfg.logsDir, p, "c", 0), "utf8");
    };
    assert.match(await weight("besteffort", "BestEffort"), /^\/autogroup-\d+ nice 19$/m);
    assert.match(await weight("burstable", "Burstable"), /^\/autogroup-\d+ nice 0$/m);
  });

  test("restartPolicy Always restarts an ended container and counts it; OnFailure does not restart success", async () => {
    start(pod("always", { containers: [container("c", ["sh", "-c", "exit 1"])] }));
    await until("always restarted twice", () => (last("always")?.containerStatuses?.[0]?.restartCount ?? 0) >= 2, 20_000, 50);
    assert.equal(last("always")!.phase, "Running");
    assert.ok(events.some((e) => e.pod === "always" && e.reason === "BackOff"), JSON.stringify(events));
    start(pod("onfailure", { restartPolicy: "OnFailure", containers: [container("c", ["true"])] }));
    await until("onfailure Succeeded", () => last("onfailure")?.phase === "Succeeded", 10_000, 50);
    assert.equal(last("onfailure")!.containerStatuses![0]!.restartCount, 0);
  });

  test("a container whose launch shell is killed takes its processes with it, before it runs again", async () => {
    // Each run holds a lock on a file in an emptyDir (its background sleep keeps it): a run started while the last one's sleep lived could not take it, and would exit 3.
    const spec = container("c", ["sh", "-c", "exec 9>/shared/lock; flock -n 9 || exit 3; sleep 1000 & wait"], { volumeMounts: [{ name: "shared", mountPath: "/shared", readOnly: false, subPath: null }] });
    const w = start(pod("orphans", { restartPolicy: "OnFailure", volumes: [{ name: "shared", kind: "emptyDir" }], containers: [spec] }));
    await until("orphans Running", () => last("orphans")?.phase === "Running", 10_000, 50);
    const shellPid = w.container("c")!.pid!;
    // The launch shell (its group's leader), the container's sh and its sleep.
    await until("the sleep runs", () => groupMembers(shellPid).length >= 3, 10_000, 50);
    const members = groupMembers(shellPid);
    process.kill(shellPid, "SIGKILL");
    await until("restarted once", () => last("orphans")?.containerStatuses?.[0]?.restartCount === 1, 10_000, 50);
    for (const pid of members) assert.equal(isAlive(pid), false, `process ${pid} of the first run is gone`);
    await until("the second run holds the lock", () => {
      const pid = w.container("c")?.pid;
      return pid !== null && pid !== undefined && pid !== shellPid && groupMembers(pid).length >= 3;
    }, 10_000, 50);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(last("orphans")!.containerStatuses![0]!.restartCount, 1, "the second run took the lock and runs on");
  });

  test("readiness: Running but not Ready while the probe fails, Ready once it passes", async () => {
    // The probe looks for a file in an emptyDir volume, which the test makes from outside.
    const flag = join(dir, "pods", "uid-probed", "volumes", "flags", "ready");
    const probe = { action: { kind: "exec" as const, command: ["test", "-e", "/flags/ready"] }, initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1 };
    start(pod("probed", { volumes: [{ name: "flags", kind: "emptyDir" }], containers: [container("c", ["sleep", "1000"], { readinessProbe: probe, volumeMounts: [{ name: "flags", mountPath: "/flags", readOnly: false, subPath: null }] })] }));
    await until("probed Running", () => last("probed")?.phase === "Running", 10_000, 50);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(last("probed")!.conditions!.find((c) => c.type === "Ready")!.status, "False");
    (await import("node:fs")).writeFileSync(flag, "");
    await until("probed Ready", () => last("probed")?.conditions?.find((c) => c.type === "Ready")?.status === "True", 10_000, 50);
  });

  test("a new worker adopts a running pod from its record; deletion stops it and finalizes", async () => {
    const w = start(pod("adopted", { containers: [container("c", ["sleep", "1000"])] }));
    await until("adopted Running", () => last("adopted")?.phase === "Running", 10_000, 50);
    const record = readPodRecords(cfg.podsDir).find((r) => r.name === "adopted")!;
    const pid = record.containers[0]!.pid!;
    assert.equal(await w.started(record.containers[0]!, 5000), true, "its root is ready for exec");
    // The old worker lets go without stopping anything, as a stopped kubelet does.
    w.abandon();
    workers.splice(workers.indexOf(w), 1);
    // A kubelet from before the started file left none behind.
    const startedFile = join(cfg.podsDir, record.uid, "containers", "c", "started");
    rmSync(startedFile);
    const again = new PodWorker(pod("adopted", { containers: [container("c", ["sleep", "1000"])] }), record, deps());
    workers.push(again);
    again.kick();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(readPodRecords(cfg.podsDir).find((r) => r.name === "adopted")!.containers[0]!.pid, pid, "not restarted");
    assert.equal(await again.started(again.container("c")!, 0), true, "an adopted container is taken as started");
    assert.equal(await again.execOnce(again.container("c")!, ["test", "-d", "/proc/1"], 5000), 0, "and exec enters it");
    again.update(pod("adopted", { deletionTimestamp: new Date(), deletionGracePeriodSeconds: 1, containers: [container("c", ["sleep", "1000"])] }));
    await until("adopted finalized", () => finalized.includes("adopted"), 10_000, 50);
    assert.throws(() => process.kill(pid, 0));
    assert.equal(readPodRecords(cfg.podsDir).some((r) => r.name === "adopted"), false);
  });
});
