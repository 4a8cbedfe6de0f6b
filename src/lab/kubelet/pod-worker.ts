/**
 * One pod's life on a lab node, driven like kubelet's pod worker: every
 * change (the Pod object, a container exit, a probe result, a back-off
 * timer) asks for a sync, and syncs of one pod never overlap.
 *
 * A sync moves the pod one step towards its spec: sandbox (namespace + CNI
 * ADD, retried with back-off after a FailedCreatePodSandbox event) and,
 * at the same time, volumes; pod files, init containers one at a time, then the containers,
 * restarting ended ones per restartPolicy with back-off (CrashLoopBackOff).
 * It ends by patching the pod's status when it changed. A pod being deleted
 * is stopped instead: SIGTERM, SIGKILL after its grace period, CNI DEL, its
 * files removed, and the Pod object deleted for good (grace 0).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { describeError } from "../../lib/errors.ts";
import { sleep } from "../../lib/sleep.ts";
import type { Container, Pod } from "../../kube/pod.ts";
import { pidsInNamespaces, stopProcesses } from "../procs.ts";
import { hostPathOnNode, KUBERNETES_SERVICE_HOST, type KubeletConfig } from "./config.ts";
import { containerDir, containerLog, killLeftovers, startContainer, stopContainer, watchAdopted } from "./containers.ts";
import { podHosts, podResolvConf } from "./dns-files.ts";
import { containerEnv, expandVars, fieldValue, type PodFacts } from "./env.ts";
import { planImage, type ImageSources } from "./images.ts";
import { containerNice } from "./autogroup.ts";
import { execArgv, type Bind } from "./launch.ts";
import { probeOnce, runProber } from "./probes.ts";
import { stillRunning, writePodRecord, type ContainerRecord, type PodRecord } from "./records.ts";
import { createSandbox, newRecord, removeSandbox } from "./sandbox.ts";
import type { ShellHost } from "../shell-host.ts";
import { containerIdOf, podPhase, podStatus, SANDBOX_FAILED, willRestart } from "./status.ts";
import { prepareVolumes, type VolumeSources } from "./volumes.ts";

/** What a pod worker needs from the kubelet around it. */
export interface WorkerDeps {
  cfg: KubeletConfig;
  images: ImageSources;
  volumes: VolumeSources;
  /** The node's shell host in its directory view, which runs the CNI plugins (node-view.ts). */
  viewShell: ShellHost;
  /** The kubelet's own shell host, which starts containers and makes pod namespaces. */
  shell: ShellHost;
  /** A ConfigMap's or Secret's data for env vars, or null when it does not exist. */
  lookup: (namespace: string, kind: "configMap" | "secret", name: string) => Promise<ReadonlyMap<string, string> | null>;
  patchStatus(pod: Pod, status: Record<string, unknown>): Promise<void>;
  /** Deletes the Pod object for good (grace 0, uid precondition). */
  finalize(pod: Pod): Promise<void>;
  event(pod: Pod, type: "Normal" | "Warning", reason: string, message: string): void;
  log(level: "info" | "warn" | "error", message: string): void;
  /** The node's resolv.conf, for dnsPolicy Default. */
  nodeResolvConf: string;
  /** Called once the pod is gone from the node. */
  done(uid: string): void;
}

/**
 * Back-off between restarts of a container (and sandbox or volume retries):
 * 2 s doubling to 60 s (kubelet: 10 s to 5 min, slower than a lab wants),
 * back to 2 s after a run of 10 min.
 */
const BACKOFF_MIN_MS = 2000;
const BACKOFF_MAX_MS = 60_000;
const BACKOFF_RESET_MS = 600_000;

/**
 * The files a container's launch shell writes in the container's directory:
 * its exit status (LaunchPlan.exitFile), and an empty file once its root is
 * ready (LaunchPlan.startedFile).
 */
type ContainerFile = "exit" | "started";
/** How long exec waits for it. */
const STARTED_WAIT_MS = 10_000;

interface Running {
  pid: number;
  pidStart: string;
  stop: AbortController;
}

/** A container's spec and record together. */
interface Slot {
  key: string;
  spec: Container;
  record: ContainerRecord;
}

export class PodWorker {
  #pod: Pod;
  #record: PodRecord | null;
  readonly #d: WorkerDeps;
  readonly #running = new Map<string, Running>();
  /** Containers whose last run's leftovers are being killed (killLeftovers): not started again until they are gone. */
  readonly #draining = new Set<string>();
  readonly #ready = new Set<string>();
  readonly #waiting = new Map<string, { reason: string; message?: string }>();
  readonly #backoff = new Map<string, { delayMs: number; until: number }>();
  readonly #probers = new Map<string, AbortController>();
  readonly #transitions = new Map<string, { ok: boolean; at: string }>();
  #sandboxError: string | null = null;
  #lastStatus = "";
  #deleted = false;
  #finished = false;
  /** When this kubelet first saw the pod, and whether its first Running status has been sent (for the start-up log line). */
  readonly #seenAt = Date.now();
  #runningSent = false;
  #syncing: Promise<void> | null = null;
  #again = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(pod: Pod, record: PodRecord | null, deps: WorkerDeps) {
    this.#pod = pod;
    this.#record = record;
    this.#d = deps;
    this.#runningSent = record !== null;
    if (record) this.#adopt(record);
  }

  get pod(): Pod {
    return this.#pod;
  }

  get record(): PodRecord | null {
    return this.#record;
  }

  /** The pod object changed. */
  update(pod: Pod): void {
    this.#pod = pod;
    this.kick();
  }

  /** The pod object is gone from the API: stop and remove the pod. */
  remove(): void {
    this.#deleted = true;
    this.kick();
  }

  /**
   * Stops driving the pod without touching it: its containers keep running
   * and the next kubelet adopts them from the record (kubelet shutdown).
   */
  abandon(): void {
    this.#finished = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#stopProbers();
    for (const r of this.#running.values()) r.stop.abort();
    this.#running.clear();
  }

  /** Asks for a sync; syncs never overlap, and one asked for during a sync runs after it. */
  kick(): void {
    if (this.#finished) return;
    if (this.#syncing) {
      this.#again = true;
      return;
    }
    this.#syncing = this.#loop();
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      try {
        await this.#sync();
      } catch (err) {
        this.#d.log("error", `pod ${this.#name()}: sync failed: ${describeError(err)}`);
        this.#later(2000);
      }
    } while (this.#again && !this.#finished);
    this.#syncing = null;
  }

  #name(): string {
    return `${this.#pod.namespace}/${this.#pod.name}`;
  }

  #later(ms: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.kick();
    }, ms);
    this.#timer.unref();
  }

  #save(): void {
    if (this.#record) writePodRecord(this.#d.cfg.podsDir, this.#record);
  }

  #podDir(): string {
    return join(this.#d.cfg.podsDir, this.#pod.uid);
  }

  async #sync(): Promise<void> {
    const pod = this.#pod;
    if (this.#deleted || pod.deletionTimestamp !== null) return this.#terminate();
    if (this.#record === null) {
      // A pod that finished before this kubelet knew it is not run again.
      if (pod.phase === "Succeeded" || pod.phase === "Failed") return;
      this.#record = newRecord(this.#d.cfg, pod);
      this.#save();
    }
    const record = this.#record;
    if (record.network === null || !record.prepared) {
      // The sandbox (netns, CNI) and the volumes (API reads, a token request) do not wait for each other.
      const [sandbox, volumes] = await Promise.all([
        record.network === null ? this.#ensureSandbox(record) : true,
        record.prepared ? true : this.#prepareVolumes(record),
      ]);
      if (!sandbox || !volumes) return this.#publish();
      this.#writePodFiles(record);
    }

    const phase = podPhase(pod, record);
    if (phase === "Succeeded" || phase === "Failed") {
      this.#stopProbers();
      // As kubelet stops a finished pod's sandbox: its address goes back to the node (a Job's pods
      // would otherwise hold the node's /24 until deleted); the status keeps the IP it had.
      if (!record.sandboxReleased && !record.hostNetwork) {
        try {
          await removeSandbox(this.#d.cfg, record, this.#d);
          record.sandboxReleased = true;
          this.#save();
        } catch (err) {
          this.#d.log("warn", `pod ${this.#name()}: CNI DEL of the finished pod failed: ${describeError(err)}; retrying`);
          this.#later(2000);
        }
      }
      return this.#publish();
    }
    for (const ic of pod.initContainers) {
      const slot = this.#slot(ic, true);
      if (this.#running.has(slot.key)) return this.#publish();
      const t = slot.record.terminated;
      if (t?.exitCode === 0) continue;
      if (t && pod.restartPolicy === "Never") return this.#publish();
      await this.#startWithBackoff(slot);
      return this.#publish();
    }
    for (const c of pod.containers) {
      const slot = this.#slot(c, false);
      if (this.#running.has(slot.key)) continue;
      const t = slot.record.terminated;
      if (slot.record.restartCount < 0 || (t && willRestart(pod.restartPolicy, t))) await this.#startWithBackoff(slot);
    }
    return this.#publish();
  }

  /** Makes the sandbox; on failure records the event, backs off and returns false. */
  async #ensureSandbox(record: PodRecord): Promise<boolean> {
    const b = this.#backoff.get("sandbox");
    if (b && Date.now() < b.until) {
      this.#later(b.until - Date.now());
      return false;
    }
    try {
      const t0 = Date.now();
      const took = await createSandbox(this.#d.cfg, record, this.#d);
      this.#d.log("info", `pod ${this.#name()}: sandbox ${record.netns} with IP ${record.ip} in ${Date.now() - t0} ms (namespace ${took.namespaceMs} ms, CNI ADD ${took.addMs} ms)`);
      this.#sandboxError = null;
      this.#backoff.delete("sandbox");
      this.#save();
      return true;
    } catch (err) {
      const message = `${SANDBOX_FAILED}: ${describeError(err)}`;
      this.#sandboxError = message;
      this.#d.event(this.#pod, "Warning", "FailedCreatePodSandbox", message);
      this.#d.log("warn", `pod ${this.#name()}: ${message}`);
      this.#setBackoff("sandbox");
      for (const c of [...this.#pod.initContainers, ...this.#pod.containers]) this.#waiting.set(c.name, { reason: "ContainerCreating" });
      return false;
    }
  }

  #setBackoff(key: string): number {
    const prev = this.#backoff.get(key);
    const delayMs = prev ? Math.min(prev.delayMs * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
    this.#backoff.set(key, { delayMs, until: Date.now() + delayMs });
    this.#later(delayMs);
    return delayMs;
  }

  /** Makes the volumes; on failure a FailedMount event and back-off. */
  async #prepareVolumes(record: PodRecord): Promise<boolean> {
    const b = this.#backoff.get("prepare");
    if (b && Date.now() < b.until) {
      this.#later(b.until - Date.now());
      return false;
    }
    const pod = this.#pod;
    try {
      const t0 = Date.now();
      await prepareVolumes(this.#d.cfg, pod, this.#podDir(), (f) => fieldValue(this.#facts(), f), this.#d.volumes);
      this.#d.log("info", `pod ${this.#name()}: ${pod.volumes.length} volumes ready in ${Date.now() - t0} ms`);
      // Saved with the next change (the sandbox's address, a container's start): a kubelet
      // restarted before that prepares the volumes again, which only rewrites their files.
      record.prepared = true;
      this.#backoff.delete("prepare");
      return true;
    } catch (err) {
      const message = `MountVolume.SetUp failed: ${describeError(err)}`;
      this.#d.event(pod, "Warning", "FailedMount", message);
      this.#d.log("warn", `pod ${this.#name()}: ${message}`);
      this.#setBackoff("prepare");
      return false;
    }
  }

  /** Writes the pod's resolv.conf, hosts (which names its IP, so after the sandbox) and hostname. */
  #writePodFiles(record: PodRecord): void {
    const pod = this.#pod;
    const cfg = this.#d.cfg;
    const dir = this.#podDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "resolv.conf"), podResolvConf({ namespace: pod.namespace, dnsPolicy: pod.dnsPolicy, hostNetwork: pod.hostNetwork, clusterDns: cfg.clusterDns, clusterDomain: cfg.clusterDomain, nodeResolvConf: this.#d.nodeResolvConf }));
    const hostname = pod.hostNetwork ? cfg.node.name : (pod.hostname ?? pod.name);
    writeFileSync(join(dir, "hosts"), podHosts({ ip: pod.hostNetwork ? null : record.ip, hostname, subdomain: pod.subdomain, namespace: pod.namespace, clusterDomain: cfg.clusterDomain }));
    writeFileSync(join(dir, "hostname"), `${hostname}\n`);
  }

  #facts(): PodFacts {
    return { pod: this.#pod, podIp: this.#record?.ip ?? null, hostIp: this.#d.cfg.node.underlayIp };
  }

  #slot(spec: Container, init: boolean): Slot {
    const record = this.#record!;
    const key = `${init ? "i" : "c"}/${spec.name}`;
    let r = record.containers.find((c) => c.name === spec.name && c.init === init);
    if (!r) {
      r = { name: spec.name, init, restartCount: -1, pid: null, pidStart: null, startedAt: null, terminated: null, lastTerminated: null, rootfs: "", workingDir: "/", env: {} };
      record.containers.push(r);
    }
    return { key, spec, record: r };
  }

  /**
   * Starts a container, or restarts an ended one: the first restart is at
   * once, each later one waits until the back-off armed by the restart
   * before it has passed (CrashLoopBackOff meanwhile).
   */
  async #startWithBackoff(slot: Slot): Promise<void> {
    // What its last run left is still being stopped; the worker is kicked once it is gone.
    if (this.#draining.has(slot.key)) return;
    const t = slot.record.terminated;
    if (t) {
      const b = this.#backoff.get(slot.key);
      if (b && Date.now() < b.until) {
        if (this.#waiting.get(slot.spec.name)?.reason !== "CrashLoopBackOff") {
          this.#waiting.set(slot.spec.name, { reason: "CrashLoopBackOff", message: `back-off ${b.delayMs / 1000}s restarting failed container=${slot.spec.name} pod=${this.#pod.name}_${this.#pod.namespace}(${this.#pod.uid})` });
          this.#d.event(this.#pod, "Warning", "BackOff", `Back-off restarting failed container ${slot.spec.name} in pod ${this.#pod.name}_${this.#pod.namespace}(${this.#pod.uid})`);
        }
        this.#later(b.until - Date.now());
        return;
      }
      const ranMs = Date.parse(t.finishedAt) - Date.parse(t.startedAt);
      const delayMs = b && ranMs < BACKOFF_RESET_MS ? Math.min(b.delayMs * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
      this.#backoff.set(slot.key, { delayMs, until: Date.now() + delayMs });
    }
    await this.#start(slot);
  }

  async #start(slot: Slot): Promise<void> {
    const pod = this.#pod;
    const record = this.#record!;
    const cfg = this.#d.cfg;
    const c = slot.spec;
    const plan = planImage(c, pod.name, this.#d.images);
    let env: Map<string, string>;
    try {
      env = await containerEnv(c, this.#facts(), KUBERNETES_SERVICE_HOST, plan.pathPrefix, (kind, name) => this.#d.lookup(pod.namespace, kind, name));
      for (const [k, v] of Object.entries(plan.env ?? {})) if (!c.env?.some((e) => e.name === k)) env.set(k, v);
    } catch (err) {
      this.#waiting.set(c.name, { reason: "CreateContainerConfigError", message: describeError(err) });
      this.#d.event(pod, "Warning", "Failed", `Error: ${describeError(err)}`);
      this.#setBackoff(slot.key);
      return;
    }
    const argv = plan.argv.map((a) => expandVars(a, env));
    const dir = containerDir(this.#podDir(), c.name, slot.record.init);
    const r = slot.record;
    const run = r.restartCount + 1;
    // A new run gets a fresh writable layer, as a new container would.
    rmSync(join(dir, String(run - 1)), { recursive: true, force: true });
    const binds: Bind[] = plan.binds.map((b) => ({ ...b, readOnly: true }));
    const podDir = this.#podDir();
    for (const m of c.volumeMounts) {
      const vol = pod.volumes.find((v) => v.name === m.name);
      if (!vol) continue;
      const base = vol.kind === "hostPath" ? hostPathOnNode(cfg, vol.path) : join(podDir, "volumes", vol.name);
      const source = m.subPath ? join(base, m.subPath) : base;
      const file = vol.kind === "hostPath" && ["File", "FileOrCreate", "Socket", "CharDevice", "BlockDevice"].includes(vol.type);
      if (m.subPath) mkdirSync(source, { recursive: true });
      binds.push({ target: m.mountPath, source, readOnly: m.readOnly, file });
    }
    const nice = containerNice(pod.qosClass);
    const launch = {
      rootfs: join(dir, "rootfs"),
      upper: join(dir, String(run), "upper"),
      work: join(dir, String(run), "work"),
      binds,
      copies: [
        { target: "/etc/resolv.conf", source: join(podDir, "resolv.conf") },
        { target: "/etc/hosts", source: join(podDir, "hosts") },
        { target: "/etc/hostname", source: join(podDir, "hostname") },
      ],
      workingDir: c.workingDir ?? "/",
      exitFile: this.#containerFile(r, "exit"),
      startedFile: this.#containerFile(r, "started"),
      ...(nice !== undefined && { cpuNice: nice }),
      hostname: pod.hostNetwork ? cfg.node.name : (pod.hostname ?? pod.name),
      ...(c.stdin && { stdin: ensureFifo(join(dir, "stdin")) }),
    };
    const envObj = Object.fromEntries(env);
    const log = containerLog(cfg.logsDir, pod, c.name, run);
    const t0 = Date.now();
    const started = await startContainer(this.#d.shell, record.netns, launch, argv, envObj, log);
    this.#d.log("info", `pod ${this.#name()}: container ${c.name} started (run ${run}) in ${Date.now() - t0} ms`);
    this.#d.event(pod, "Normal", "Started", `Started container ${c.name}`);
    r.restartCount = run;
    if (r.terminated) r.lastTerminated = r.terminated;
    r.terminated = null;
    r.pid = started.pid;
    r.pidStart = started.pidStart;
    r.startedAt = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    r.rootfs = launch.rootfs;
    r.workingDir = launch.workingDir;
    r.env = envObj;
    this.#waiting.delete(c.name);
    this.#save();
    const stop = new AbortController();
    this.#running.set(slot.key, { pid: started.pid, pidStart: started.pidStart, stop });
    void started.exited.then((code) => this.#exited(slot.key, r, code));
    if (!r.init) this.#startProbers(slot.key, c, r);
  }

  /** Re-attaches to the containers a previous kubelet started (restart recovery). */
  #adopt(record: PodRecord): void {
    for (const r of record.containers) {
      if (r.pid === null || r.pidStart === null) continue;
      const key = `${r.init ? "i" : "c"}/${r.name}`;
      const exitFile = this.#containerFile(r, "exit");
      const stop = new AbortController();
      this.#running.set(key, { pid: r.pid, pidStart: r.pidStart, stop });
      if (!stillRunning(r.pid, r.pidStart)) {
        // It ended while no kubelet watched; exitStatus reads its exit file.
        void watchAdopted(r.pid, r.pidStart, exitFile, stop.signal).then((code) => this.#exited(key, r, code));
        continue;
      }
      void watchAdopted(r.pid, r.pidStart, exitFile, stop.signal).then((code) => {
        if (!stop.signal.aborted) this.#exited(key, r, code);
      });
      // A kubelet before the started file left none: its containers mounted their roots long ago.
      // (One adopted in the middle of its launch, a kubelet restarted within those milliseconds, is taken as started too.)
      try {
        const started = this.#containerFile(r, "started");
        if (!existsSync(started)) writeFileSync(started, "");
      } catch {
        // Its directory is gone: exec finds nothing to enter either way.
      }
      const spec = (r.init ? this.#pod.initContainers : this.#pod.containers).find((c) => c.name === r.name);
      if (spec && !r.init) this.#startProbers(key, spec, r);
    }
  }

  #exited(key: string, r: ContainerRecord, code: number): void {
    if (this.#finished) return;
    const running = this.#running.get(key);
    if (!running || running.pid !== r.pid) return;
    this.#running.delete(key);
    running.stop.abort();
    this.#probers.get(key)?.abort();
    this.#probers.delete(key);
    this.#ready.delete(r.name);
    r.terminated = {
      exitCode: code,
      reason: code === 0 ? "Completed" : "Error",
      startedAt: r.startedAt ?? new Date().toISOString(),
      finishedAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      containerId: containerIdOf(this.#pod.uid, r.name, r.restartCount),
    };
    r.pid = null;
    r.pidStart = null;
    this.#save();
    this.#d.log("info", `pod ${this.#name()}: container ${r.name} exited with ${code}`);
    // Its next run starts once the last one is gone (a port, a socket or a lock it held is free).
    this.#draining.add(key);
    void killLeftovers(running.pid, running.pidStart)
      .catch((err: unknown) => this.#d.log("warn", `pod ${this.#name()}: container ${r.name}: cannot stop what its last run left: ${describeError(err)}`))
      .finally(() => {
        this.#draining.delete(key);
        this.kick();
      });
  }

  #startProbers(key: string, c: Container, r: ContainerRecord): void {
    if (!c.readinessProbe) this.#ready.add(c.name);
    const abort = new AbortController();
    this.#probers.get(key)?.abort();
    this.#probers.set(key, abort);
    const attempt = (probe: NonNullable<Container["readinessProbe"]>) => () =>
      probeOnce(probe, this.#record?.ip ?? this.#d.cfg.node.underlayIp, c.ports, (command, timeoutMs) => this.execOnce(r, command, timeoutMs));
    if (c.readinessProbe) {
      const probe = c.readinessProbe;
      void runProber(probe, attempt(probe), (ok) => {
        if (ok) this.#ready.add(c.name);
        else this.#ready.delete(c.name);
        this.kick();
      }, abort.signal);
    }
    if (c.livenessProbe) {
      const probe = c.livenessProbe;
      void runProber(probe, attempt(probe), (ok, message) => {
        if (ok || r.pid === null) return;
        this.#d.event(this.#pod, "Warning", "Unhealthy", `Liveness probe failed: ${message}`);
        this.#d.event(this.#pod, "Normal", "Killing", `Container ${c.name} failed liveness probe, will be restarted`);
        void stopContainer(r.pid, r.pidStart ?? "", this.#pod.terminationGracePeriodSeconds * 1000);
      }, abort.signal);
    }
  }

  #stopProbers(): void {
    for (const a of this.#probers.values()) a.abort();
    this.#probers.clear();
  }

  /**
   * Resolves true once container `r`'s root is mounted and its process
   * about to start (its launch shell made the started file): what exec
   * needs. False once it is not running, or after `waitMs`. The status
   * calls a container running as soon as its launch shell exists.
   */
  async started(r: ContainerRecord, waitMs = STARTED_WAIT_MS): Promise<boolean> {
    const file = this.#containerFile(r, "started");
    const until = Date.now() + waitMs;
    for (;;) {
      if (r.pid === null) return false;
      if (existsSync(file)) return true;
      if (Date.now() >= until) return false;
      await sleep(10);
    }
  }

  #containerFile(r: Pick<ContainerRecord, "name" | "init">, file: ContainerFile): string {
    return join(containerDir(this.#podDir(), r.name, r.init), file);
  }

  /** Runs `command` in a running container, output discarded; resolves with its exit status (-1 on timeout, the wait for its root included). */
  async execOnce(r: ContainerRecord, command: string[], timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    if (!(await this.started(r, timeoutMs)) || r.pid === null) return -1;
    const argv = execArgv(r.pid, r.rootfs, r.workingDir, command);
    const left = timeoutMs - (Date.now() - t0);
    if (left <= 0) return -1;
    return new Promise((resolve) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: "ignore", env: r.env, timeout: left });
      child.once("error", () => resolve(-1));
      child.once("exit", (code, sig) => resolve(sig ? -1 : (code ?? -1)));
    });
  }

  /** A container's record by name (a main container first, then an init container). */
  container(name: string): ContainerRecord | undefined {
    const cs = this.#record?.containers ?? [];
    return cs.find((c) => c.name === name && !c.init) ?? cs.find((c) => c.name === name);
  }

  async #publish(): Promise<void> {
    const status = podStatus(
      { pod: this.#pod, record: this.#record, hostIp: this.#d.cfg.node.underlayIp, ready: this.#ready, waiting: this.#waiting, sandboxError: this.#sandboxError },
      this.#transitions,
    );
    const text = JSON.stringify(status);
    if (text === this.#lastStatus) return;
    try {
      await this.#d.patchStatus(this.#pod, status);
      this.#lastStatus = text;
      if (!this.#runningSent && status.phase === "Running") {
        this.#runningSent = true;
        this.#d.log("info", `pod ${this.#name()}: Running with IP ${String(status.podIP)}, status sent ${Date.now() - this.#seenAt} ms after this kubelet saw the pod`);
      }
    } catch (err) {
      this.#d.log("warn", `pod ${this.#name()}: status update failed: ${describeError(err)}`);
      this.#later(1000);
    }
  }

  /** Stops every container, tears the sandbox down, removes the pod's files and, unless it is gone already, the Pod object. */
  async #terminate(): Promise<void> {
    this.#stopProbers();
    const pod = this.#pod;
    const graceS = this.#deleted ? 0 : (pod.deletionGracePeriodSeconds ?? pod.terminationGracePeriodSeconds);
    const record = this.#record;
    if (!this.#deleted) {
      for (const c of record?.containers ?? []) if (c.pid !== null) this.#d.event(pod, "Normal", "Killing", `Stopping container ${c.name}`);
    }
    await Promise.all(
      [...this.#running.values()].map(async (r) => {
        r.stop.abort();
        await stopContainer(r.pid, r.pidStart, graceS * 1000);
      }),
    );
    this.#running.clear();
    if (record) {
      if (!record.hostNetwork) {
        // Anything left in the pod's namespace (a process that changed its group).
        const left = pidsInNamespaces([record.netns]).get(record.netns) ?? [];
        await stopProcesses(left, 0);
      }
      try {
        await removeSandbox(this.#d.cfg, record, this.#d);
      } catch (err) {
        this.#d.log("warn", `pod ${this.#name()}: CNI DEL failed: ${describeError(err)}; retrying`);
        this.#later(2000);
        return;
      }
      rmSync(this.#podDir(), { recursive: true, force: true });
      rmSync(join(this.#d.cfg.logsDir, `${pod.namespace}_${pod.name}_${pod.uid}`), { recursive: true, force: true });
    }
    if (!this.#deleted) {
      try {
        await this.#d.finalize(pod);
      } catch (err) {
        this.#d.log("warn", `pod ${this.#name()}: final delete failed: ${describeError(err)}; retrying`);
        this.#record = null;
        this.#later(2000);
        return;
      }
    }
    this.#finished = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#d.done(pod.uid);
  }
}

/** Makes the FIFO at `path` unless it is there (a restarted container keeps its stdin); returns `path`. */
function ensureFifo(path: string): string {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    const r = spawnSync("mkfifo", ["-m", "600", path], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`mkfifo ${path}: ${r.stderr.trim() || `status ${r.status}`}`);
  }
  return path;
}

/** The node's resolv.conf text, read once at start. */
export function readNodeResolvConf(): string {
  try {
    return readFileSync("/etc/resolv.conf", "utf8");
  } catch {
    return "";
  }
}
