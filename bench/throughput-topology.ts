/**
 * The two-node topologies bench/throughput compares, each with one pod per
 * node (pod K at 10.244.K.x behind bridge weft0 on node K):
 *
 *   weft         real agents (vxlan or host-gw) and pods made by the weft
 *                CNI plugin through libcni (build/cniclient), as a runtime
 *                makes them;
 *   hand-built   the same nodes with the same kernel state written by hand
 *                with `ip`/`bridge`: the vxlan device and per-peer route,
 *                permanent neighbour and FDB entry (or host-gw's routes via
 *                the peer), and pods wired as the plugin wires them (bridge
 *                with the gateway, veth pair with the same MTU on both ends,
 *                hairpin, default route via the gateway), forwarding on; no
 *                nftables rule unless asked for the one masquerade rule
 *                that lets pods reach beyond the cluster (weft's default).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { vtepMacFor } from "../src/backend/vxlan/device.ts";
import { parsePrefix } from "../src/lib/ipv4.ts";
import { subnetOf, type AgentCluster } from "./agent-cluster.ts";
import { ipBatch, type Scratch } from "./agent-scratch.ts";

const root = resolve(import.meta.dirname, "..");

/** What a person wiring nodes by hand adds so that pods reach past the cluster: one masquerade rule. */
const MASQUERADE_BY_HAND = `table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 10.244.0.0/16 ip daddr != 10.244.0.0/16 masquerade
  }
}
`;
const NODES = [1, 2];

/** The pod on each of the two nodes. */
export interface PodPair {
  /** Pod namespaces, node 1's first. */
  pods: [string, string];
  /** Node 2's pod address (the iperf3 server). */
  serverIp: string;
}

function run(argv: readonly string[], input?: string): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", input });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/** The IPv4 address of eth0 in `pod`. */
export function podIp(pod: string): string {
  const links = JSON.parse(run(["ip", "-n", pod, "-4", "-j", "addr", "show", "dev", "eth0"])) as { addr_info: { local: string }[] }[];
  return links[0]!.addr_info[0]!.local;
}

/** Starts agents on nodes 1 and 2 of `c` and waits until each routes to the other. */
export async function startWeft(c: AgentCluster): Promise<void> {
  c.addNodes(NODES);
  for (const k of NODES) c.startAgent(k);
  await Promise.all(NODES.map((k) => c.waitReady(k)));
  await c.waitMeshed(NODES);
}

/** One pod per node through the weft plugin, driven by libcni from the node's namespace. */
export function weftPods(scratch: Scratch, c: AgentCluster, tag: string): PodPair {
  const pods = scratch.addNamespaces(NODES.map((k) => `${tag}p${k}`)) as [string, string];
  // libcni finds a plugin by its type: the build linked as "weft", as install-cni places it.
  const bin = join(c.dir, "cni-bin");
  mkdirSync(bin);
  symlinkSync(join(root, "build/weft-cni"), join(bin, "weft"));
  NODES.forEach((k, i) => {
    const dir = join(c.dir, `node${k}`, "cni");
    mkdirSync(join(dir, "conf"), { recursive: true });
    const conf = { type: "weft", subnetFile: join(c.runDir(k), "subnet.env"), dataDir: join(dir, "ipam") };
    writeFileSync(join(dir, "conf", "10-weft.conflist"), JSON.stringify({ cniVersion: "1.0.0", name: "weft", plugins: [conf] }));
    run(["ip", "netns", "exec", c.ns(k), join(root, "build/cniclient"), "--conf-dir", join(dir, "conf"), "--path", `${bin}:/usr/lib/cni`,
      "--cache-dir", join(dir, "cache"), "add", "weft", `/run/netns/${pods[i]}`, "eth0", `bench-${tag}-${k}`]);
  });
  return { pods, serverIp: podIp(pods[1]) };
}

/** The pod MTU a weft node writes into its subnet file. */
export function subnetFileMtu(c: AgentCluster, k: number): number {
  const m = /^WEFT_MTU=(\d+)$/m.exec(readFileSync(join(c.runDir(k), "subnet.env"), "utf8"));
  if (!m) throw new Error(`no WEFT_MTU in node${k}'s subnet file`);
  return Number(m[1]);
}

/**
 * Builds nodes 1 and 2 of `c` by hand for `backend`, with one pod each of
 * `mtu`; with `masquerade`, also the rule masquerading pod traffic that
 * leaves the cluster CIDR.
 */
export function handBuilt(scratch: Scratch, c: AgentCluster, tag: string, backend: "vxlan" | "host-gw", mtu: number, masquerade: boolean): PodPair {
  c.addNodes(NODES);
  const ip = (k: number) => `192.168.125.${100 + k}`;
  const mac = (k: number) => vtepMacFor(parsePrefix(subnetOf(k)));
  for (const k of NODES) {
    const peer = NODES.find((j) => j !== k)!;
    const lines = backend === "vxlan"
      ? [
        `link add weft.1 address ${mac(k)} mtu ${mtu} type vxlan id 1 dev eth0 local ${ip(k)} dstport 8472 nolearning`,
        `addr add 10.244.${k}.0/32 dev weft.1`,
        "link set weft.1 up",
        `route add ${subnetOf(peer)} via 10.244.${peer}.0 dev weft.1 onlink`,
        `neigh add 10.244.${peer}.0 lladdr ${mac(peer)} dev weft.1 nud permanent`,
      ]
      : [`route add ${subnetOf(peer)} via ${ip(peer)} dev eth0`];
    ipBatch(lines, c.ns(k));
    if (backend === "vxlan") run(["bridge", "-n", c.ns(k), "fdb", "add", mac(peer), "dev", "weft.1", "dst", ip(peer), "self", "permanent"]);
    run(["ip", "netns", "exec", c.ns(k), "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    if (masquerade) run(["ip", "netns", "exec", c.ns(k), "nft", "-f", "-"], MASQUERADE_BY_HAND);
  }
  const pods = scratch.addNamespaces(NODES.map((k) => `${tag}p${k}`)) as [string, string];
  NODES.forEach((k, i) => {
    ipBatch([
      "link add weft0 type bridge",
      `addr add 10.244.${k}.1/24 dev weft0`,
      "link set weft0 up",
      `link add vethb${k} mtu ${mtu} type veth peer name eth0 mtu ${mtu} netns ${pods[i]}`,
      `link set vethb${k} master weft0`,
      `link set vethb${k} type bridge_slave hairpin on`,
      `link set vethb${k} up`,
    ], c.ns(k));
    ipBatch([`addr add 10.244.${k}.2/24 dev eth0`, "link set eth0 up", `route add default via 10.244.${k}.1`], pods[i]);
  });
  return { pods, serverIp: "10.244.2.2" };
}
