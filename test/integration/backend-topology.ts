/**
 * Throw-away topologies for the backend, nft and iface integration tests,
 * made only of network namespaces this process creates (never the host's):
 *
 *   <prefix>-sw      the underlay "switch": bridge br0
 *   <prefix>-nodeK   node K: eth0 192.168.125.(100+K)/24 on br0, bridge weft0
 *                    with the pod gateway 10.244.K.1/24, forwarding on
 *   <prefix>-podK    one pod on node K: eth0 10.244.K.2/24 on weft0,
 *                    default route via 10.244.K.1
 *   <prefix>-out     "outside": 192.168.125.1/24 on br0, no route to pods
 *
 * Names are `wb-<tag>-<pid>-…` (test/support/netns.ts), unique per test
 * file and process. `dispose()` deletes every namespace made, and is safe
 * to call after a failed or partial build.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { LocalNode, Peer } from "../../src/backend/types.ts";
import { Namespaces, runIn } from "../support/netns.ts";

/** Runs a shell script of `ip -n …` lines in one process; throws with its stderr on failure. */
export function sh(script: string): void {
  execFileSync("sh", ["-ec", script], { stdio: ["ignore", "ignore", "pipe"] });
}

/** One node of the topology. */
export interface TopoNode {
  k: number;
  node: string;
  pod: string;
  /** 192.168.125.(100+k) */
  ip: string;
  /** 10.244.k.0/24 */
  subnet: string;
  /** 10.244.k.2 */
  podIp: string;
}

/** Node n as its own backend sees it: underlay eth0, MTU 1500. */
export function localOf(n: TopoNode): LocalNode {
  return { subnet: n.subnet, publicIp: n.ip, underlayIface: "eth0", underlayMtu: 1500 };
}

/** Node n as its peers' backends see it (its lease). */
export function peerOf(n: TopoNode, backendData: Record<string, string> = {}): Peer {
  return { node: `node${n.k}`, publicIp: n.ip, subnet: n.subnet, backendData };
}

/** One test file's namespaces and the helper processes running in them. */
export class Topology {
  readonly switchNs: string;
  readonly #ns: Namespaces;
  readonly #children: ChildProcess[] = [];

  constructor(tag: string) {
    this.#ns = new Namespaces(`wb-${tag}`);
    this.switchNs = `${this.#ns.prefix}-sw`;
  }

  /** Creates the switch. */
  addSwitch(): void {
    const sw = this.#ns.add("sw");
    sh(`ip -n ${sw} link add br0 type bridge; ip -n ${sw} link set br0 up`);
  }

  /** Plugs `ns` into the switch as its eth0 with `cidr`. */
  #plug(ns: string, port: string, cidr: string): void {
    const sw = this.switchNs;
    sh(`ip -n ${sw} link add ${port} type veth peer name eth0 netns ${ns}
      ip -n ${sw} link set ${port} master br0 up
      ip -n ${ns} addr add ${cidr} dev eth0
      ip -n ${ns} link set eth0 up`);
  }

  /** Creates node k with one pod; `forwarding` sets ip_forward in the node (default true). */
  addNode(k: number, forwarding = true): TopoNode {
    const node = this.#ns.add(`node${k}`);
    const pod = this.#ns.add(`pod${k}`);
    const n: TopoNode = { k, node, pod, ip: `192.168.125.${100 + k}`, subnet: `10.244.${k}.0/24`, podIp: `10.244.${k}.2` };
    this.#plug(node, `n${k}`, `${n.ip}/24`);
    sh(`ip -n ${node} link add weft0 type bridge
      ip -n ${node} addr add 10.244.${k}.1/24 dev weft0
      ip -n ${node} link set weft0 up
      ip -n ${node} link add vethp type veth peer name eth0 netns ${pod}
      ip -n ${node} link set vethp master weft0 up
      ip -n ${pod} addr add ${n.podIp}/24 dev eth0
      ip -n ${pod} link set eth0 up
      ip -n ${pod} route add default via 10.244.${k}.1
      ip netns exec ${node} sysctl -qw net.ipv4.ip_forward=${forwarding ? 1 : 0}`);
    return n;
  }

  /** Creates the "outside" host at 192.168.125.1 on the switch; returns its namespace. */
  addOutside(): string {
    const out = this.#ns.add("out");
    this.#plug(out, "out", "192.168.125.1/24");
    return out;
  }

  /** Creates a bare namespace (for tests that wire their own links). */
  addNamespace(name: string): string {
    return this.#ns.add(name);
  }

  /**
   * Starts a TCP server on `port` in `ns` that answers each connection with
   * the address it came from, then closes it. Resolves once it listens;
   * dispose() stops it.
   */
  async startPeerAddressServer(ns: string, port: number): Promise<void> {
    const code = `const s = require("node:net").createServer((c) => c.end(c.remoteAddress + "\\n"));
      s.listen(${port}, "0.0.0.0", () => console.log("ready"));`;
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
    this.#children.push(child);
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      child.once("exit", (c) => reject(new Error(`server in ${ns} exited with ${c}`)));
      lines.once("line", () => resolve());
    });
  }

  /** Disposes of everything made: servers first, then every namespace (with the links in them). */
  dispose(): void {
    for (const c of this.#children) c.kill();
    this.#ns.removeAll();
  }
}

/**
 * Connects from `ns` to host:port and resolves with what the server said
 * (the peer address it saw); throws when that fails or takes over `timeoutMs`.
 */
export function askPeerAddress(ns: string, host: string, port: number, timeoutMs = 3000): string {
  const code = `const c = require("node:net").connect(${port}, "${host}");
    let got = ""; c.on("data", (d) => (got += d)); c.on("end", () => { process.stdout.write(got); process.exit(0); });
    c.on("error", (e) => { console.error(e.message); process.exit(1); });
    setTimeout(() => { console.error("timed out"); process.exit(2); }, ${timeoutMs});`;
  const r = runIn(ns, [process.execPath, "-e", code]);
  if (r.status !== 0) throw new Error(`TCP ${host}:${port} from ${ns}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** True when `ns` gets an answer from `ip` within a few one-second pings. */
export function pings(ns: string, ip: string, tries = 3): boolean {
  for (let i = 0; i < tries; i++) {
    if (runIn(ns, ["ping", "-c", "1", "-W", "1", ip]).status === 0) return true;
  }
  return false;
}
