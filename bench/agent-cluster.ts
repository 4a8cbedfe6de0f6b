/**
 * A cluster of real `weft agent` processes for the agent benchmarks, built
 * by hand so nodes can be added and removed one at a time (a lab is fixed
 * at `up`). Everything lives in namespaces of one Scratch:
 *
 *     <prefix><tag>sw    bridge br0, one veth port per node
 *     <prefix><tag>out   192.168.125.1 on br0; etcd there with --store etcd
 *     <prefix><tag>nK    node K: eth0 192.168.125.(100+K)/24, agent pinned to
 *                        10.244.K.0/24 (--subnet-min/--subnet-max)
 *
 * Agents log to DIR/nodeK.log and keep their files in DIR/nodeK/; the
 * embedded store is DIR/store.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { spawnSync, type ChildProcess, type SpawnSyncReturns } from "node:child_process";
import { fetchAgent } from "../src/agent/client.ts";
import { EmbeddedStore } from "../src/store/embedded/store.ts";
import { DEFAULT_ETCD_PREFIX } from "../src/store/etcd/store.ts";
import { encodeLease, subnetKey, type LeaseAttrs } from "../src/store/types.ts";
import { ipBatch, type Scratch } from "./agent-scratch.ts";
import { GiveUp, until } from "../test/support/until.ts";

const root = resolve(import.meta.dirname, "..");
/** The shipped agent (scripts/bundle.ts), as the lab and a DaemonSet run it. */
const AGENT_BUNDLE = join(root, "build/weft-agent.mjs");
/** The CLI from source, for `weft agent` with Node.js stripping the types at load. */
const MAIN = join(root, "src/cli/main.ts");

/** The etcd client URL inside the cluster. */
export const ETCD_URL = "http://192.168.125.1:2379";

/** Which store the agents share. */
export type StoreName = "embedded" | "etcd" | "kubernetes";

/**
 * The Node.js flags deploy/weft.yaml gives the agent (its NODE_OPTIONS), so
 * a bench of the kubernetes store runs the agent as the DaemonSet does.
 */
export function deployedAgentNodeFlags(): string[] {
  const m = /- name: weft\n(?:.*\n)*?\s+- name: NODE_OPTIONS\n\s+value: (.*)/.exec(readFileSync(join(root, "deploy/weft.yaml"), "utf8"));
  if (!m) throw new Error("deploy/weft.yaml: the weft container sets no NODE_OPTIONS");
  return m[1]!.trim().split(/\s+/);
}

/** Node K's pinned subnet. */
export function subnetOf(k: number): string {
  return `10.244.${k}.0/24`;
}


/** One agent process. */
export interface AgentProc {
  child: ChildProcess;
  /** Its stderr, a file in the cluster's directory. */
  log: string;
}

/** The switch, the outside host, the nodes and their agents. */
export class AgentCluster {
  readonly store: StoreName;
  readonly backend: string;
  /** The cluster's directory: logs, per-node directories, the embedded store, etcd's data. */
  readonly dir: string;
  readonly #scratch: Scratch;
  /** Flags every agent of this cluster gets besides those #agentArgs sets. */
  readonly #agentFlags: readonly string[];
  readonly #sw: string;
  readonly #out: string;
  readonly #nodes = new Map<number, string>();
  readonly #agents = new Map<number, AgentProc>();
  /** Namespaces addHost made. */
  readonly #hosts: string[] = [];
  #etcd: ChildProcess | undefined;
  /** With the kubernetes store: the kubeconfig every agent is given (setKubeconfig). */
  #kubeconfig: string | undefined;

  /** Namespace names of this cluster start with the Scratch's prefix and this. */
  readonly #tag: string;

  /**
   * Builds the switch and the outside host. `tag` tells apart clusters of one
   * Scratch (a letter or two); `backend` is the agents' (default vxlan), and
   * `agentFlags` go to every agent too.
   */
  constructor(scratch: Scratch, store: StoreName, tag: string, backend = "vxlan", agentFlags: readonly string[] = []) {
    this.#scratch = scratch;
    this.#tag = tag;
    this.store = store;
    this.backend = backend;
    this.#agentFlags = agentFlags;
    this.dir = scratch.tempDir(`cluster-${store}`);
    mkdirSync(this.storeDir);
    [this.#sw, this.#out] = scratch.addNamespaces([`${tag}sw`, `${tag}out`]) as [string, string];
    ipBatch(["link add br0 type bridge", "link set br0 up", `link add out master br0 up type veth peer name eth0 netns ${this.#out}`], this.#sw);
    ipBatch(["addr add 192.168.125.1/24 dev eth0", "link set eth0 up"], this.#out);
  }

  /** The outside host's namespace (where etcd runs). */
  get outsideNs(): string {
    return this.#out;
  }

  /** Node K's namespace. */
  ns(k: number): string {
    const ns = this.#nodes.get(k);
    if (ns === undefined) throw new Error(`no node ${k}`);
    return ns;
  }

  /**
   * Wires one more host to the switch: namespace `<prefix><tag><name>` with
   * eth0 at `ip`/24 (e.g. a control plane at 192.168.125.100); returns its name.
   */
  addHost(name: string, ip: string): string {
    const [ns] = this.#scratch.addNamespaces([`${this.#tag}${name}`]) as [string];
    this.#hosts.push(ns);
    ipBatch([`link add h${name} master br0 up type veth peer name eth0 netns ${ns}`], this.#sw);
    ipBatch([`addr add ${ip}/24 dev eth0`, "link set eth0 up"], ns);
    return ns;
  }

  /** With the kubernetes store: the kubeconfig agents started from now on get (`--kubeconfig`). */
  setKubeconfig(file: string): void {
    this.#kubeconfig = file;
  }

  /** Starts etcd on the outside host and waits until it answers. */
  async startEtcd(): Promise<void> {
    const data = join(this.dir, "etcd");
    const fd = openSync(join(this.dir, "etcd.log"), "a");
    this.#etcd = this.#scratch.spawn(["ip", "netns", "exec", this.#out, "etcd", "--name", "bench", "--data-dir", data,
      "--listen-client-urls", ETCD_URL, "--advertise-client-urls", ETCD_URL,
      "--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
      "--initial-cluster", "bench=http://127.0.0.1:2380"], { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    await until("etcd", () => this.#etcdctl(["endpoint", "health"]).status === 0, 20_000, 200);
  }

  /** Runs etcdctl against the cluster's etcd (from the outside host). */
  #etcdctl(args: readonly string[]): SpawnSyncReturns<string> {
    return spawnSync("ip", ["netns", "exec", this.#out, "etcdctl", "--endpoints", ETCD_URL, ...args], { encoding: "utf8" });
  }

  /** Creates nodes `ks`, wired to the switch, with no agent yet. */
  addNodes(ks: readonly number[]): void {
    const names = this.#scratch.addNamespaces(ks.map((k) => `${this.#tag}n${k}`));
    ks.forEach((k, i) => this.#nodes.set(k, names[i]!));
    ipBatch(ks.map((k, i) => `link add p${k} master br0 up type veth peer name eth0 netns ${names[i]}`), this.#sw);
    for (const k of ks) ipBatch([`addr add 192.168.125.${100 + k}/24 dev eth0`, "link set eth0 up"], this.ns(k));
  }

  /** Deletes node K's namespace (its agent must be stopped); its switch port goes with it. */
  removeNode(k: number): void {
    this.#scratch.removeNamespaces([this.ns(k)]);
    this.#nodes.delete(k);
  }

  /** Node K's agent run directory (subnet.env, agent.sock). */
  runDir(k: number): string {
    return join(this.dir, `node${k}`, "run");
  }

  /** The agent's flags for node K. */
  #agentArgs(k: number): string[] {
    // On the kubernetes store the subnet is the Node's spec.podCIDR, which whoever creates the Node sets.
    const storeArgs = this.store === "embedded" ? ["--store-dir", this.storeDir]
      : this.store === "etcd" ? ["--store", "etcd", "--etcd-endpoints", ETCD_URL]
      : ["--store", "kubernetes", "--kubeconfig", this.#kubeconfig ?? "(call setKubeconfig first)"];
    const pinned = this.store === "kubernetes" ? [] : ["--subnet-min", `10.244.${k}.0`, "--subnet-max", `10.244.${k}.0`];
    return [
      "--node-name", `node${k}`, "--iface", "eth0", "--backend", this.backend,
      "--run-dir", this.runDir(k), "--state-dir", join(this.dir, `node${k}`, "lib"),
      ...pinned, ...storeArgs, ...this.#agentFlags,
    ];
  }

  /**
   * Starts node K's agent (`ip netns exec` execs, so the child's pid is the
   * agent's): Node.js running the shipped build/weft-agent.mjs, or with
   * `o.fromSource` src/cli/main.ts agent; `o.nodeFlags` (default none) go
   * to Node.js.
   */
  startAgent(k: number, o: { fromSource?: boolean; nodeFlags?: readonly string[] } = {}): AgentProc {
    if (!o.fromSource && !existsSync(AGENT_BUNDLE)) throw new Error(`${AGENT_BUNDLE} is missing; run scripts/setup.sh`);
    const log = join(this.dir, `node${k}.log`);
    const fd = openSync(log, "a");
    const entry = o.fromSource ? ["--disable-warning=ExperimentalWarning", MAIN, "agent"] : [AGENT_BUNDLE];
    const child = this.#scratch.spawn(["ip", "netns", "exec", this.ns(k), process.execPath, ...(o.nodeFlags ?? []), ...entry, ...this.#agentArgs(k)], {
      stdio: ["ignore", "ignore", fd],
    });
    closeSync(fd);
    const a = { child, log };
    this.#agents.set(k, a);
    return a;
  }

  /** The agent of node K. */
  agent(k: number): AgentProc {
    const a = this.#agents.get(k);
    if (a === undefined) throw new Error(`no agent on node ${k}`);
    return a;
  }

  /** Waits (up to 2 minutes) until node K's agent answers /readyz with ready. */
  async waitReady(k: number): Promise<void> {
    const a = this.agent(k);
    await until(`node${k}'s agent to be ready (log: ${a.log})`, async () => {
      if (a.child.exitCode !== null) throw new GiveUp(`node${k}'s agent exited with ${a.child.exitCode}; see ${a.log}`);
      return (await fetchAgent<string>(join(this.runDir(k), "agent.sock"), "/readyz")) === "ready\n";
    }, 120_000, 100);
  }

  /** Kills node K's agent (SIGKILL: nothing of it is tidied) and waits for it to exit. */
  async stopAgent(k: number): Promise<void> {
    const a = this.agent(k);
    this.#agents.delete(k);
    if (a.child.exitCode !== null || a.child.signalCode !== null) return;
    const exited = new Promise((r) => a.child.once("exit", r));
    a.child.kill("SIGKILL");
    await exited;
  }

  /** Writes a lease into the store as its holder would (for embedded, with `ttlSeconds`; etcd keys get no TTL). */
  async putLease(subnet: string, attrs: LeaseAttrs, ttlSeconds = 3600): Promise<void> {
    if (this.store === "kubernetes") throw new Error("putLease: on the kubernetes store a lease is a Node; create the Node instead");
    if (this.store === "embedded") {
      if (!(await new EmbeddedStore({ dir: this.storeDir }).createIfAbsent(subnet, attrs, ttlSeconds))) throw new Error(`${subnet} is taken`);
      return;
    }
    const record = encodeLease({ subnet, attrs, expiresAt: Date.now() + ttlSeconds * 1000 });
    const r = this.#etcdctl(["put", this.#etcdKey(subnet), record]);
    if (r.status !== 0) throw new Error(`etcdctl put ${subnet}: ${r.stderr}`);
  }

  /** Removes the lease on `subnet` held by `node`, as `weft agent --cleanup` would. */
  async deleteLease(subnet: string, node: string): Promise<void> {
    if (this.store === "kubernetes") throw new Error("deleteLease: on the kubernetes store a lease is a Node; delete the Node instead");
    if (this.store === "embedded") return new EmbeddedStore({ dir: this.storeDir }).release(subnet, node);
    const r = this.#etcdctl(["del", this.#etcdKey(subnet)]);
    if (r.status !== 0) throw new Error(`etcdctl del ${subnet}: ${r.stderr}`);
  }

  /** The etcd key of `subnet`'s lease. */
  #etcdKey(subnet: string): string {
    return `${DEFAULT_ETCD_PREFIX}${subnetKey(subnet)}`;
  }

  /** The embedded store's directory. */
  get storeDir(): string {
    return join(this.dir, "store");
  }

  /** Kills every agent and etcd, and deletes the cluster's namespaces (the Scratch removes its directory). */
  async close(): Promise<void> {
    await Promise.all([...this.#agents.keys()].map((k) => this.stopAgent(k)));
    this.#etcd?.kill("SIGKILL");
    this.#scratch.removeNamespaces([...this.#nodes.values(), ...this.#hosts, this.#sw, this.#out]);
    this.#nodes.clear();
  }

  /** How many peer routes node K has: on the vxlan device, or host-gw's (proto 87). */
  routeCount(k: number): number {
    const which = this.backend === "vxlan" ? ["dev", "weft.1"] : ["proto", "87"];
    const r = spawnSync("ip", ["-n", this.ns(k), "-4", "route", "show", ...which], { encoding: "utf8" });
    return r.status === 0 ? r.stdout.split("\n").filter((l) => l.trim() !== "").length : -1;
  }

  /** Waits (up to 2 minutes) until every node in `ks` has a route to every other one. */
  async waitMeshed(ks: readonly number[]): Promise<void> {
    await until(`routes between all ${ks.length} nodes`, () => ks.every((k) => this.routeCount(k) === ks.length - 1), 120_000, 250);
  }
}
