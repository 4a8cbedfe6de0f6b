/**
 * Two nodes for the network policy's integration tests, made only of
 * network namespaces this process creates, wired like weft's host-gw data
 * plane:
 *
 *   <prefix>-sw     the underlay switch (bridge br0)
 *   <prefix>-n1/n2  node k: eth0 192.168.125.(100+k)/24, bridge weft0 with
 *                   10.244.k.1/24, forwarding on, connected to the other
 *                   node by weft's real backend (connect(): host-gw routes
 *                   or the vxlan device weft.1 with its peer); each runs the
 *                   real PolicyController (and ServiceProxy) through
 *                   test/support/policy-node.ts, which also sets
 *                   bridge-nf-call-iptables (same-node pod traffic is bridged)
 *   <prefix>-pN     a pod: eth0 10.244.k.N/24 on its node's bridge (hairpin
 *                   on, as weft's CNI plugin sets it), default via 10.244.k.1,
 *                   running build/polprobe's server (TCP, UDP and SCTP)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Namespaces } from "../support/netns.ts";
import { sh } from "./backend-topology.ts";
import { ROOT } from "../../src/lib/root.ts";
import type { PolicyControllerOptions } from "../../src/policy/controller.ts";
import type { ServiceProxyOptions } from "../../src/proxy/proxy.ts";
import { createBackend } from "../../src/backend/registry.ts";
import { createRunner } from "../../src/kernel/runner.ts";

export const POLPROBE = join(ROOT, "build/polprobe");
const HARNESS = join(ROOT, "test/support/policy-node.ts");

export const NODES = ["n1", "n2"] as const;
export type NodeName = (typeof NODES)[number];

/** One node's controller process. */
class NodeProcess {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, (v: Record<string, unknown>) => void>();
  #nextId = 1;
  log = "";

  constructor(netns: string, options: unknown) {
    this.#child = spawn("ip", ["netns", "exec", netns, process.execPath, HARNESS, JSON.stringify(options)], { stdio: ["pipe", "pipe", "pipe"] });
    this.#child.stderr!.on("data", (d) => (this.log += d));
    createInterface({ input: this.#child.stdout! }).on("line", (line) => {
      const m = JSON.parse(line) as Record<string, unknown>;
      const w = this.#waiting.get(m.id as number);
      this.#waiting.delete(m.id as number);
      w?.(m);
    });
  }

  send(m: Record<string, unknown>): void {
    this.#child.stdin!.write(JSON.stringify(m) + "\n");
  }

  ask(op: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    const p = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node did not answer ${op}; its log:\n${this.log}`)), timeoutMs);
      this.#waiting.set(id, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
    this.send({ op, id });
    return p;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      this.#child.once("exit", () => resolve());
      this.#child.stdin!.end();
    });
  }
}

export interface LabPod {
  netns: string;
  ip: string;
  node: NodeName;
}

export class PolicyLab {
  readonly #ns: Namespaces;
  readonly #servers: ChildProcess[] = [];
  readonly nodeNs: Record<NodeName, string>;
  readonly #nodes = new Map<NodeName, NodeProcess>();
  #pods = 0;

  constructor(tag: string) {
    if (!existsSync(POLPROBE)) throw new Error(`${POLPROBE} is missing: run sh test/tools/polprobe/build.sh (scripts/setup.sh does)`);
    this.#ns = new Namespaces(`np-${tag}`);
    const sw = this.#ns.add("sw");
    this.nodeNs = { n1: this.#ns.add("n1"), n2: this.#ns.add("n2") };
    sh(`ip -n ${sw} link add br0 type bridge; ip -n ${sw} link set br0 up`);
    for (const [k, node] of NODES.entries()) {
      const ns = this.nodeNs[node];
      const other = 2 - k;
      sh(`ip -n ${sw} link add ${node} type veth peer name eth0 netns ${ns}
        ip -n ${sw} link set ${node} master br0 up
        ip -n ${ns} addr add 192.168.125.${101 + k}/24 dev eth0
        ip -n ${ns} link set eth0 up
        ip -n ${ns} link add weft0 type bridge
        ip -n ${ns} addr add 10.244.${k + 1}.1/24 dev weft0
        ip -n ${ns} link set weft0 up
        ip netns exec ${ns} sysctl -qw net.ipv4.ip_forward=1`);
    }
  }

  /** Connects the nodes' pod subnets with weft's `backend` (host-gw or vxlan), as the agents would. */
  async connect(backend: string): Promise<void> {
    const made = await Promise.all(
      NODES.map(async (node, k) => {
        const b = createBackend(backend, { runner: createRunner(this.nodeNs[node]) });
        const setup = await b.setup({ subnet: `10.244.${k + 1}.0/24`, publicIp: `192.168.125.${101 + k}`, underlayIface: "eth0", underlayMtu: 1500 });
        return { b, peer: { node, publicIp: `192.168.125.${101 + k}`, subnet: `10.244.${k + 1}.0/24`, backendData: setup.backendData } };
      }),
    );
    for (const [k, { b }] of made.entries()) {
      const report = await b.reconcile([made[1 - k]!.peer]);
      if (report.problems.length) throw new Error(`${backend} between the nodes: ${JSON.stringify(report.problems)}`);
    }
  }

  /** Starts each node's controller (policy options merged over the defaults; `proxy` adds a ServiceProxy). */
  start(policy: Partial<Omit<PolicyControllerOptions, "runner" | "log" | "nodeName">> = {}, proxy?: Omit<ServiceProxyOptions, "runner" | "log" | "nodeName" | "nodePodCidr">): void {
    for (const [k, node] of NODES.entries()) {
      const opts = {
        policy: { nodeName: node, minSyncIntervalMs: 10, ...policy },
        ...(proxy && { proxy: { ...proxy, nodeName: node, nodePodCidr: `10.244.${k + 1}.0/24` } }),
      };
      this.#nodes.set(node, new NodeProcess(this.nodeNs[node], opts));
    }
  }

  /** A pod namespace on `node` with the next free address there. */
  addPod(node: NodeName, tag: string): LabPod {
    const k = NODES.indexOf(node) + 1;
    const n = 10 + this.#pods++;
    const netns = this.#ns.add(tag);
    sh(`ip -n ${this.nodeNs[node]} link add vp${n} type veth peer name eth0 netns ${netns}
      ip -n ${this.nodeNs[node]} link set vp${n} master weft0 up
      ip -n ${this.nodeNs[node]} link set vp${n} type bridge_slave hairpin on
      ip -n ${netns} addr add 10.244.${k}.${n}/24 dev eth0
      ip -n ${netns} link set eth0 up
      ip -n ${netns} route add default via 10.244.${k}.1`);
    return { netns, ip: `10.244.${k}.${n}`, node };
  }

  /** Starts polprobe's server in a pod on `ports` (TCP, UDP and SCTP each). */
  async serve(pod: LabPod, name: string, ports: number[]): Promise<void> {
    const child = spawn("ip", ["netns", "exec", pod.netns, POLPROBE, "serve", name, ...ports.map(String)], { stdio: ["ignore", "pipe", "inherit"] });
    this.#servers.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once("exit", (c) => reject(new Error(`server ${name} exited with ${c}`)));
      createInterface({ input: child.stdout! }).once("line", () => resolve());
    });
  }

  /** Probes `targets` (PROTO:HOST:PORT) from a pod, all at once; true where the server answered. */
  probe(pod: LabPod, timeoutMs: number, targets: string[]): Promise<Record<string, boolean>> {
    return new Promise((resolve, reject) => {
      const child = spawn("ip", ["netns", "exec", pod.netns, POLPROBE, "probe", String(timeoutMs), ...targets], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      child.on("close", (code) => {
        try {
          resolve(JSON.parse(out) as Record<string, boolean>);
        } catch {
          reject(new Error(`polprobe probe in ${pod.netns} exited ${code}: ${err.trim() || out.trim()}`));
        }
      });
    });
  }

  /** Holds one flow from a pod (polprobe hold) and returns, per round, whether it was answered. */
  hold(pod: LabPod, proto: string, host: string, port: number, intervalMs: number, count: number): Promise<boolean[]> {
    return new Promise((resolve, reject) => {
      const child = spawn("ip", ["netns", "exec", pod.netns, POLPROBE, "hold", proto, host, String(port), String(intervalMs), String(count)], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      child.on("close", (code) => {
        try {
          resolve((JSON.parse(out) as { answered: boolean[] }).answered);
        } catch {
          reject(new Error(`polprobe hold in ${pod.netns} exited ${code}: ${err.trim() || out.trim()}`));
        }
      });
    });
  }

  /** Sends an input event to every node's controller. */
  send(m: Record<string, unknown>): void {
    for (const n of this.#nodes.values()) n.send(m);
  }

  /** Waits for a sync on every node that started after the events sent so far. */
  async sync(): Promise<Record<NodeName, Record<string, unknown>>> {
    const [a, b] = await Promise.all(NODES.map((n) => this.#nodes.get(n)!.ask("sync")));
    return { n1: a!, n2: b! };
  }

  ask(node: NodeName, op: string): Promise<Record<string, unknown>> {
    return this.#nodes.get(node)!.ask(op);
  }

  log(node: NodeName): string {
    return this.#nodes.get(node)?.log ?? "";
  }

  /** Stops the controllers and servers and deletes every namespace. */
  async dispose(): Promise<void> {
    await Promise.all([...this.#nodes.values()].map((n) => n.stop().catch(() => {})));
    for (const c of this.#servers) c.kill();
    this.#ns.removeAll();
  }
}
