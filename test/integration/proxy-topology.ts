/**
 * A node for the service proxy's integration tests, made only of network
 * namespaces this process creates:
 *
 *   <prefix>-sw     the underlay switch (bridge br0)
 *   <prefix>-node   node n1: eth0 192.168.125.101/24, bridge weft0 with
 *                   10.244.1.1/24, forwarding on, default route via the
 *                   outside host; bridged traffic kept off the ip hooks
 *                   (bridge-nf-call-iptables=0, per namespace), which the
 *                   proxy turns on (same-bridge Services need it); the proxy
 *                   runs here
 *   <prefix>-node2  another node: eth0 192.168.125.102/24, routes pods via n1
 *   <prefix>-out    the outside host 192.168.125.1
 *   <prefix>-pK     pod K on n1: eth0 10.244.1.K/24, default via 10.244.1.1;
 *                   its bridge port in hairpin mode, as weft's CNI plugin sets
 *                   it (hairpinMode, default true): with bridge-nf-call-iptables
 *                   a pod's packet DNATed back to itself is bridged out the
 *                   port it came in by
 *
 * Endpoints "on other nodes" are pods on this bridge whose slice says
 * another nodeName: the proxy only knows nodes by that name.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { Namespaces } from "../support/netns.ts";
import { sh } from "./backend-topology.ts";
import { ROOT } from "../../src/lib/root.ts";
import type { EndpointSlice, Service } from "../../src/proxy/types.ts";
import type { ServiceProxyOptions } from "../../src/proxy/proxy.ts";
import { ensureMasquerade } from "../../src/agent/masquerade.ts";
import { createRunner } from "../../src/kernel/runner.ts";

const PROBE = join(ROOT, "test/support/net-probe.ts");
const HARNESS = join(ROOT, "test/support/proxy-node.ts");

export const NODE_IP = "192.168.125.101";
export const NODE2_IP = "192.168.125.102";
export const GATEWAY = "10.244.1.1";

/** What net-probe prints for tcp and udp runs. */
export interface Tally {
  answers: Record<string, number>;
  errors: Record<string, number>;
  maxMs: number;
}

type ProxyOptions = Omit<ServiceProxyOptions, "runner" | "log">;

export const PROXY_OPTIONS: ProxyOptions = {
  nodeName: "n1",
  nodePodCidr: "10.244.1.0/24",
  clusterCidr: "10.244.0.0/16",
  serviceCidr: "10.96.0.0/12",
  resyncMs: 2000,
  minSyncIntervalMs: 20,
};

export class ProxyLab {
  readonly #ns: Namespaces;
  readonly #children: ChildProcess[] = [];
  readonly node: string;
  readonly node2: string;
  readonly out: string;
  #proxy: ChildProcess | undefined;
  #nextId = 1;
  readonly #waiting = new Map<number, (v: Record<string, unknown>) => void>();
  proxyLog = "";

  constructor(tag: string) {
    this.#ns = new Namespaces(`px-${tag}`);
    const sw = this.#ns.add("sw");
    this.node = this.#ns.add("node");
    this.node2 = this.#ns.add("node2");
    this.out = this.#ns.add("out");
    sh(`ip -n ${sw} link add br0 type bridge; ip -n ${sw} link set br0 up`);
    for (const [ns, port, ip] of [[this.node, "n1", NODE_IP], [this.node2, "n2", NODE2_IP], [this.out, "out", "192.168.125.1"]] as const) {
      sh(`ip -n ${sw} link add ${port} type veth peer name eth0 netns ${ns}
        ip -n ${sw} link set ${port} master br0 up
        ip -n ${ns} addr add ${ip}/24 dev eth0
        ip -n ${ns} link set eth0 up`);
    }
    sh(`ip -n ${this.node} link add weft0 type bridge
      ip -n ${this.node} addr add ${GATEWAY}/24 dev weft0
      ip -n ${this.node} link set weft0 up
      ip -n ${this.node} route add default via 192.168.125.1
      ip netns exec ${this.node} sysctl -qw net.ipv4.ip_forward=1
      ip netns exec ${this.node} sysctl -qw net.bridge.bridge-nf-call-iptables=0
      ip -n ${this.node2} route add 10.244.1.0/24 via ${NODE_IP}`);
  }

  /**
   * Writes the agent's own table `ip weft` into the node (forward accept and
   * masquerade of pod traffic leaving the cluster), as on a real node. Its
   * NAT chain also keeps connection tracking on in the namespace while the
   * proxy's table is gone (the kernel tracks a namespace's connections only
   * while some rule there needs it).
   */
  async addAgentTable(): Promise<void> {
    await ensureMasquerade(createRunner(this.node), { clusterCidr: "10.244.0.0/16", ipMasq: true });
  }

  /** Pod K on the node: 10.244.1.K. Returns its namespace. */
  addPod(k: number): string {
    const pod = this.#ns.add(`p${k}`);
    sh(`ip -n ${this.node} link add vp${k} type veth peer name eth0 netns ${pod}
      ip -n ${this.node} link set vp${k} master weft0 up
      ip -n ${this.node} link set vp${k} type bridge_slave hairpin on
      ip -n ${pod} addr add 10.244.1.${k}/24 dev eth0
      ip -n ${pod} link set eth0 up
      ip -n ${pod} route add default via ${GATEWAY}`);
    return pod;
  }

  /** Starts net-probe's server in `ns`, answering "NAME CLIENT_IP" on the given ports. */
  async serve(ns: string, name: string, tcp: number[], udp: number[] = []): Promise<void> {
    // Its stdin is ours: if this process dies, the server's stdin closes and it exits.
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, PROBE, "serve", name, tcp.join(",") || "-", udp.join(",") || "-"], { stdio: ["pipe", "pipe", "inherit"] });
    this.#children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once("exit", (c) => reject(new Error(`server ${name} in ${ns} exited with ${c}`)));
      createInterface({ input: child.stdout! }).once("line", () => resolve());
    });
  }

  /** Runs net-probe in `ns` and parses its JSON line. */
  probe<T = Tally>(ns: string, ...args: (string | number)[]): Promise<T> {
    return new Promise((resolve, reject) => {
      const child = spawn("ip", ["netns", "exec", ns, process.execPath, PROBE, ...args.map(String)], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      child.on("exit", (code) => {
        try {
          resolve(JSON.parse(out) as T);
        } catch {
          reject(new Error(`net-probe ${args.join(" ")} in ${ns} exited ${code}: ${err.trim() || out.trim()}`));
        }
      });
    });
  }

  /** Starts the proxy (test/support/proxy-node.ts) in the node namespace. */
  startProxy(options: Partial<ProxyOptions> = {}): void {
    const child = spawn("ip", ["netns", "exec", this.node, process.execPath, HARNESS, JSON.stringify({ ...PROXY_OPTIONS, ...options })], { stdio: ["pipe", "pipe", "pipe"] });
    this.#proxy = child;
    child.stderr!.on("data", (d) => (this.proxyLog += d));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const m = JSON.parse(line) as Record<string, unknown>;
      const w = this.#waiting.get(m.id as number);
      this.#waiting.delete(m.id as number);
      w?.(m);
    });
  }

  /** Stops the proxy process; its table stays, as when the agent stops. */
  async stopProxy(): Promise<void> {
    const p = this.#proxy;
    if (!p) return;
    this.#proxy = undefined;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.stdin!.end();
    });
  }

  send(m: Record<string, unknown>): void {
    if (!this.#proxy) throw new Error("the proxy is not running");
    this.#proxy.stdin!.write(JSON.stringify(m) + "\n");
  }

  /** Sends a request that gets an answer (sync, status, metrics). */
  ask(op: string): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    const p = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`proxy did not answer ${op}; its log:\n${this.proxyLog}`)), 15_000);
      this.#waiting.set(id, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
    this.send({ op, id });
    return p;
  }

  service(s: Service): void {
    this.send({ op: "service", service: s });
  }
  deleteService(namespace: string, name: string): void {
    this.send({ op: "delete-service", namespace, name });
  }
  slice(s: EndpointSlice): void {
    this.send({ op: "slice", slice: s });
  }
  deleteSlice(namespace: string, name: string): void {
    this.send({ op: "delete-slice", namespace, name });
  }

  /** Applies what was sent and waits for the sync. */
  async sync(): Promise<Record<string, unknown>> {
    return this.ask("sync");
  }

  /** Kills servers and the proxy and deletes every namespace. */
  async dispose(): Promise<void> {
    await this.stopProxy().catch(() => {});
    for (const c of this.#children) c.kill();
    this.#ns.removeAll();
  }
}

/** The backends a tally reached, by name, and the client addresses they saw. */
export function backends(t: Tally): { names: Set<string>; clients: Set<string> } {
  const names = new Set<string>();
  const clients = new Set<string>();
  for (const a of Object.keys(t.answers)) {
    const [n, c] = a.split(" ");
    names.add(n!);
    clients.add(c!);
  }
  return { names, clients };
}
