/**
 * The lab kubelet: weft's node runtime for a lab node (`weft lab kubelet
 * --name LAB --node NODE`, run by the lab's supervisor inside the node's
 * namespace). It
 *
 *   - registers the Node, keeps its status (node-status.ts) and heartbeats
 *     its Lease in kube-node-lease every 10 s;
 *   - watches the Pods bound to the node (informer, field selector
 *     spec.nodeName) and runs each with a PodWorker;
 *   - serves the kubelet API on NODE_IP:10250 (server.ts) for logs and exec;
 *   - on start, reads the pod records a previous run left and adopts those
 *     pods (their containers keep running); records of pods the API no
 *     longer has are torn down once the informer has synced.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, watch, writeFileSync, type FSWatcher } from "node:fs";
import { arch, cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { describeError } from "../../lib/errors.ts";
import { sleep } from "../../lib/sleep.ts";
import { ROOT } from "../../lib/root.ts";
import { PORT_SERVER_BINARY } from "./daemons.ts";
import {
  apiMessage,
  connectKube,
  ensureNode,
  finalizePodDeletion,
  patchNodeStatus,
  patchPodStatus,
  readConfigMapData,
  readNode,
  readSecretData,
  recordPodEvent,
  renewNodeLease,
  requestPodToken,
  watchPods,
  apiStatus,
  type Kube,
} from "../../kube/client.ts";
import type { Pod } from "../../kube/pod.ts";
import { loadConfList } from "../cni.ts";
import { kubernetesBinDir, kubernetesVersion } from "../control/binaries.ts";
import { contains, formatPrefix, parsePrefix, type Prefix } from "../../lib/ipv4.ts";
import { readSubnetFile } from "../../subnet/file.ts";
import type { KubeletConfig } from "./config.ts";
import { busyboxBinDir, imageBusybox, type ImageSources } from "./images.ts";
import { boundPodMissing, refusedByGraph, whileGraphLags } from "./node-graph.ts";
import { nodeLabels, nodeStatus } from "./node-status.ts";
import { PodWorker, readNodeResolvConf, type WorkerDeps } from "./pod-worker.ts";
import { readPodRecords, type PodRecord } from "./records.ts";
import { startKubeletServer } from "./server.ts";
import { nodeViewShellArgv } from "../node-view.ts";
import { BUSYBOX, ShellHost } from "../shell-host.ts";
import type { VolumeSources } from "./volumes.ts";

/** How often the node's status is posted and its lease renewed (kubelet: 10 s each). */
const HEARTBEAT_MS = 10_000;
const LEASE_SECONDS = 40;
/** How often the CNI conf dir is looked at for a conflist, besides a watch on it. */
const NETWORK_POLL_MS = 1000;

function log(level: string, message: string): void {
  process.stdout.write(`${new Date().toISOString()} ${level} kubelet: ${message}\n`);
}

/** Runs until `signal` aborts. */
export async function runKubelet(cfg: KubeletConfig, signal: AbortSignal): Promise<void> {
  for (const d of [cfg.podsDir, cfg.logsDir, cfg.hostRoot]) mkdirSync(d, { recursive: true });
  const kube = connectKube(cfg.kubeconfig);
  const images = prepareImages(cfg);
  const workers = new Map<string, PodWorker>();
  // Events already recorded, by pod uid, reason and message: a repeat bumps the count (kubelet's aggregation).
  const events = new Map<string, { name: string; count: number }>();
  const node = new NodeLoop(kube, cfg);
  await node.register(signal);
  void node.run(signal);

  // Children of a small shell rather than of this process (shell-host.ts says why).
  const shell = new ShellHost(["/bin/sh", "-s"], join(cfg.rootDir, "exec"));
  const viewShell = new ShellHost(nodeViewShellArgv(cfg.paths), join(cfg.rootDir, "exec-view"));
  const deps: WorkerDeps = {
    cfg,
    images,
    shell,
    viewShell,
    volumes: volumeSources(kube),
    lookup: async (namespace, kind, name) => {
      try {
        const data = await whileGraphLags(() => (kind === "configMap" ? readConfigMapData(kube, namespace, name) : readSecretData(kube, namespace, name)));
        return new Map([...data].map(([k, v]) => [k, v.toString("utf8")]));
      } catch (err) {
        if (apiStatus(err) === 404) return null;
        throw err;
      }
    },
    patchStatus: (pod, status) => patchPodStatus(kube, pod.namespace, pod.name, status),
    finalize: (pod) => finalizePodDeletion(kube, pod.namespace, pod.name, pod.uid),
    event: (pod, type, reason, message) => {
      const key = `${pod.uid}\0${reason}\0${message}`;
      const seen = events.get(key);
      const e = { namespace: pod.namespace, podName: pod.name, podUid: pod.uid, type, reason, message, component: "kubelet", host: cfg.node.name };
      recordPodEvent(kube, e, seen && { name: seen.name, count: seen.count + 1 }).then(
        (name) => events.set(key, { name, count: (seen?.count ?? 0) + 1 }),
        (err) => log("warn", `cannot record event ${reason} for ${pod.namespace}/${pod.name}: ${apiMessage(err)}`),
      );
    },
    log: (level, message) => log(level, message),
    nodeResolvConf: readNodeResolvConf(),
    done: (uid) => {
      workers.delete(uid);
      for (const key of events.keys()) if (key.startsWith(`${uid}\0`)) events.delete(key);
    },
  };

  // Restart recovery: the pods a previous run left, adopted before the informer reports them.
  const leftover = new Map<string, PodRecord>(readPodRecords(cfg.podsDir).map((r) => [r.uid, r]));
  for (const r of leftover.values()) log("info", `found pod ${r.namespace}/${r.name} (${r.uid}) from a previous run`);

  const server = await startKubeletServer(cfg, {
    find: (namespace, name) => [...workers.values()].find((w) => w.pod.namespace === namespace && w.pod.name === name),
    logsDir: cfg.logsDir,
    log: (m) => log("info", m),
  });

  const upsert = (pod: Pod) => {
    const w = workers.get(pod.uid);
    if (w) return w.update(pod);
    const record = leftover.get(pod.uid) ?? null;
    leftover.delete(pod.uid);
    const worker = new PodWorker(pod, record, deps);
    workers.set(pod.uid, worker);
    worker.kick();
  };
  const watch = watchPods(kube, `spec.nodeName=${cfg.node.name}`, {
    upsert,
    remove: (pod) => workers.get(pod.uid)?.remove(),
    error: (err) => log("warn", `pod watch: ${apiMessage(err)}`),
  });
  void watch.synced.then(() => {
    // Records of pods the API no longer has: tear them down as deleted pods.
    for (const r of leftover.values()) {
      log("info", `pod ${r.namespace}/${r.name} (${r.uid}) is gone from the API; removing it`);
      const w = new PodWorker(stubPod(r), r, deps);
      workers.set(r.uid, w);
      w.remove();
    }
    leftover.clear();
  });
  log("info", `node ${cfg.node.name} (${cfg.node.underlayIp}) running; kubelet API on ${cfg.node.underlayIp}:${cfg.port}`);

  await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  await watch.stop().catch(() => {});
  // The pods keep running; the next kubelet adopts them.
  for (const w of workers.values()) w.abandon();
  shell.close();
  viewShell.close();
  await server.close();
}

/**
 * Makes the busybox image's directory `bin`: a copy of `source` (the
 * directory is bound into containers, where the machine's own /bin/busybox
 * is Debian 12's) and a link to it per applet; again whenever `source`
 * changed (setup fetched Debian 13's after a lab started, or a lab made
 * before the copy existed), which a marker file beside them tells.
 */
function makeBusyboxImage(bin: string, source: string): void {
  const marker = join(bin, ".source");
  const st = statSync(source);
  const stamp = `${source} ${st.size} ${st.mtimeMs}\n`;
  if (existsSync(marker) && readFileSync(marker, "utf8") === stamp) return;
  if (source === BUSYBOX) log("warn", `the busybox image runs ${BUSYBOX}, Debian 12's, whose wget has no timeout (wget -T crashes); scripts/setup.sh fetches Debian 13's (scripts/busybox.sh)`);
  mkdirSync(bin, { recursive: true });
  // What an earlier kubelet made goes; the directory stays, as running containers have it bound.
  for (const old of readdirSync(bin)) rmSync(join(bin, old), { force: true });
  const list = spawnSync(source, ["--list"], { encoding: "utf8" });
  for (const applet of (list.stdout ?? "").split("\n").filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== "busybox")) {
    try {
      symlinkSync("busybox", join(bin, applet));
    } catch (err) {
      log("warn", `busybox applet ${applet}: ${describeError(err)}`);
    }
  }
  copyFileSync(source, join(bin, "busybox.tmp"));
  chmodSync(join(bin, "busybox.tmp"), 0o755);
  renameSync(join(bin, "busybox.tmp"), join(bin, "busybox"));
  // Last: the directory is whole.
  writeFileSync(marker, stamp);
}

/** A Pod standing in for a record whose object is gone, so its worker can tear it down. */
function stubPod(r: PodRecord): Pod {
  return {
    uid: r.uid, namespace: r.namespace, name: r.name, labels: {}, nodeName: null, deletionTimestamp: null, deletionGracePeriodSeconds: 0,
    terminationGracePeriodSeconds: 0, restartPolicy: "Never", dnsPolicy: "ClusterFirst", hostNetwork: r.hostNetwork, hostname: null, subdomain: null,
    serviceAccountName: "default", initContainers: [], containers: [], volumes: [], phase: null, qosClass: null,
  };
}

/**
 * The address this namespace sends from by its default route (`ip route
 * get`'s prefsrc), as kubelet picks a node address without --node-ip; null
 * without a default route.
 */
function defaultRouteAddress(): string | null {
  const r = spawnSync("ip", ["-4", "-j", "route", "get", "1.0.0.1"], { encoding: "utf8" });
  try {
    return (JSON.parse(r.stdout) as { prefsrc?: string }[])[0]?.prefsrc ?? null;
  } catch {
    return null;
  }
}

/** Registration, status and lease heartbeats, and the Ready condition from the CNI conf dir. */
class NodeLoop {
  readonly #kube: Kube;
  readonly #cfg: KubeletConfig;
  readonly #transitions = new Map<string, { status: string; at: string }>();
  #uid: string | undefined;
  #networkReady: boolean | null = null;

  /** The Node's InternalIP: --node-ip, else the default route's source address (config.ts nodeIp). */
  readonly #internalIp: string;

  constructor(kube: Kube, cfg: KubeletConfig) {
    this.#kube = kube;
    this.#cfg = cfg;
    this.#internalIp = cfg.nodeIp ?? defaultRouteAddress() ?? cfg.node.underlayIp;
  }

  /** Creates the Node (retrying until the API answers) and posts its first status. */
  async register(signal: AbortSignal): Promise<void> {
    const name = this.#cfg.node.name;
    const podCidr = await this.#agentSubnet(signal);
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        await ensureNode(this.#kube, name, nodeLabels({ name, arch: goArch() }), podCidr);
        this.#uid = (await readNode(this.#kube, name))?.metadata?.uid;
        await this.#postStatus();
        log("info", `registered node ${name}`);
        return;
      } catch (err) {
        log("warn", `cannot register node ${name} yet: ${apiMessage(err)}`);
        // At most 1 s apart: the kubelet starts with the API server, which takes seconds to answer,
        // and a longer back-off would register the Node (and so its DaemonSet pods) that much later.
        await sleep(Math.min(250 * 2 ** attempt, 1000), signal);
      }
    }
  }

  /** The subnet the lab's agent leased for this node (see podCidrFromSubnetFile), waiting up to 30 s for it. */
  async #agentSubnet(signal: AbortSignal): Promise<string | null> {
    const file = this.#cfg.podCidrFromSubnetFile;
    if (file === null) return null;
    const deadline = Date.now() + 30_000;
    while (!signal.aborted && Date.now() < deadline) {
      let subnet: Prefix;
      try {
        subnet = readSubnetFile(file).subnet;
      } catch {
        await sleep(100, signal);
        continue;
      }
      const cluster = parsePrefix(this.#cfg.clusterCidr);
      if (subnet.len < cluster.len || !contains(cluster, subnet.base)) {
        log("warn", `the agent's subnet ${formatPrefix(subnet)} is outside the cluster CIDR ${this.#cfg.clusterCidr}; registering without a podCIDR`);
        return null;
      }
      return formatPrefix(subnet);
    }
    log("warn", `no subnet file ${file} after 30 s; registering without a podCIDR`);
    return null;
  }

  async run(signal: AbortSignal): Promise<void> {
    let nextBeat = 0;
    // A conflist written into the conf dir (install-cni) wakes the loop at once, so the Node turns
    // Ready within a status update of it; the poll stays for a dir that is made or replaced later.
    let wakeUp: (() => void) | null = null;
    let watcher: FSWatcher | null = null;
    const watchConfDir = () => {
      if (watcher !== null) return;
      try {
        watcher = watch(this.#cfg.paths.cniConfDir, () => wakeUp?.());
        watcher.on("error", () => {
          watcher?.close();
          watcher = null;
        });
      } catch {
        // Not there yet: the poll finds it.
      }
    };
    const nap = () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(done, NETWORK_POLL_MS);
        wakeUp = done;
        function done() {
          clearTimeout(timer);
          wakeUp = null;
          resolve();
        }
      });
    signal.addEventListener("abort", () => {
      watcher?.close();
      wakeUp?.();
    }, { once: true });
    while (!signal.aborted) {
      watchConfDir();
      const ready = this.#cniConfigured();
      const now = Date.now();
      if (ready !== this.#networkReady || now >= nextBeat) {
        try {
          await this.#postStatus();
          await renewNodeLease(this.#kube, this.#cfg.node.name, this.#uid, LEASE_SECONDS);
          nextBeat = now + HEARTBEAT_MS;
        } catch (err) {
          log("warn", `node heartbeat failed: ${apiMessage(err)}`);
          nextBeat = now + 2000;
        }
      }
      await nap();
    }
  }

  #cniConfigured(): boolean {
    try {
      loadConfList(this.#cfg.paths.cniConfDir);
      return true;
    } catch {
      return false;
    }
  }

  async #postStatus(): Promise<void> {
    const ready = this.#cniConfigured();
    const status = nodeStatus(
      {
        name: this.#cfg.node.name,
        ip: this.#internalIp,
        port: this.#cfg.port,
        networkReady: ready,
        cpus: cpus().length,
        memoryBytes: totalmem(),
        now: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        kernel: release(),
        osImage: osImage(),
        arch: goArch(),
        bootId: readTrim("/proc/sys/kernel/random/boot_id"),
        machineId: readTrim("/etc/machine-id"),
        version: kubernetesVersion(),
      },
      this.#transitions,
    );
    await patchNodeStatus(this.#kube, this.#cfg.node.name, status);
    if (ready !== this.#networkReady) log("info", `node ${this.#cfg.node.name} is ${ready ? "Ready" : "NotReady (no CNI configuration yet)"}`);
    this.#networkReady = ready;
  }
}

function readTrim(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
}

function osImage(): string {
  const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readTrim("/etc/os-release"));
  return m?.[1] ?? "Linux";
}

/** Node's arch as Go (and so Kubernetes) names it. */
function goArch(): string {
  const a = arch();
  return a === "x64" ? "amd64" : a;
}

/** The image catalog's sources; makes the busybox image's directory (makeBusyboxImage). */
function prepareImages(cfg: KubeletConfig): ImageSources {
  const bin = busyboxBinDir(cfg.rootDir);
  const source = imageBusybox() ?? (BUSYBOX.startsWith("/") ? BUSYBOX : null);
  if (source === null) log("warn", "busybox is not installed: the busybox image has no applets (scripts/setup.sh installs it)");
  else makeBusyboxImage(bin, source);
  const agnhost = join(kubernetesBinDir(), "agnhost");
  return {
    busyboxBin: bin,
    agnhost: existsSync(agnhost) ? agnhost : null,
    weft: join(ROOT, "bin/weft"),
    portServer: PORT_SERVER_BINARY,
  };
}

/** How long a ConfigMap or Secret read is reused: pods started together (a Deployment's) read kube-root-ca.crt once. */
const OBJECT_CACHE_MS = 5000;

function volumeSources(kube: Kube): VolumeSources {
  const cache = new Map<string, { at: number; value: Promise<Map<string, Buffer> | null> }>();
  const cached = (key: string, read: () => Promise<Map<string, Buffer>>): Promise<Map<string, Buffer> | null> => {
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < OBJECT_CACHE_MS) return hit.value;
    const value = read().catch((err: unknown) => {
      cache.delete(key);
      if (apiStatus(err) === 404) return null;
      throw err;
    });
    cache.set(key, { at: Date.now(), value });
    for (const [k, v] of cache) if (Date.now() - v.at >= OBJECT_CACHE_MS) cache.delete(k);
    return value;
  };
  return {
    // Each pod rides out the Node authorizer's lag for itself (a refused read leaves the cache, so
    // pods asking meanwhile share the next one), each with its own 1.5 s.
    configMap: (namespace, name) => whileGraphLags(() => cached(`configmap/${namespace}/${name}`, () => readConfigMapData(kube, namespace, name))),
    secret: (namespace, name) => whileGraphLags(() => cached(`secret/${namespace}/${name}`, () => readSecretData(kube, namespace, name))),
    token: async (pod, expirationSeconds, audience) => {
      const ask = () => requestPodToken(kube, { namespace: pod.namespace, name: pod.name, uid: pod.uid, serviceAccount: pod.serviceAccountName }, expirationSeconds, audience ? [audience] : []);
      const r = await whileGraphLags(ask, (err) => refusedByGraph(err) || boundPodMissing(err, pod.name));
      return r.token;
    },
  };
}

