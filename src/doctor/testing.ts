/**
 * Fake facts for doctor's unit tests: a healthy vxlan cluster of N nodes as
 * collect.ts would have read it (node K at 192.168.125.(100+K) on eth0 with
 * 10.244.K.0/24, weft.1, one pod, every peer programmed, the agent ready),
 * for a test to break one fact of.
 */
import { Histogram } from "../metrics/histogram.ts";
import { RECONCILE_BUCKETS } from "../agent/metrics.ts";
import type { AgentStatus, ConnectionStatus, PeerStatus } from "../agent/status.ts";
import { vtepMacFor } from "../backend/vxlan/device.ts";
import { parsePrefix } from "../lib/ipv4.ts";
import type { Cluster, Link, NodeFacts } from "./facts.ts";

const mac = (k: number) => vtepMacFor(parsePrefix(`10.244.${k}.0/24`));
const ip = (k: number) => `192.168.125.${100 + k}`;

function link(ifname: string, mtu: number, extra: Partial<Link> = {}, addrs: string[] = []): Link {
  return {
    ifindex: 0,
    ifname,
    flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
    mtu,
    link_type: "ether",
    addr_info: addrs.map((a) => ({ family: "inet", local: a.split("/")[0]!, prefixlen: Number(a.split("/")[1]) })),
    ...extra,
  };
}

function peerStatus(j: number): PeerStatus {
  return {
    node: `node${j}`, publicIp: ip(j), subnet: `10.244.${j}.0/24`, backend: "vxlan", backendData: { vtepMac: mac(j) },
    leaseExpiresAt: 0, state: "programmed",
  };
}

/** Node `k` of a healthy vxlan cluster of `n` nodes. */
export function fakeNode(k: number, n: number): NodeFacts {
  const peers = Array.from({ length: n }, (_, i) => i + 1).filter((j) => j !== k);
  const runDir = `/run/weft/lab/t/node${k}/run`;
  const status: AgentStatus = {
    node: `node${k}`, version: "0.1.0", pid: 100 + k, startedAt: "2025-01-01T00:00:00.000Z", ready: true,
    readiness: { lease: true, backend: true, subnetFile: true },
    network: "10.244.0.0/16", subnet: `10.244.${k}.0/24`, gateway: `10.244.${k}.1`, publicIp: ip(k),
    underlay: { name: "eth0", mtu: 1500 }, mtu: 1450, backend: "vxlan", backendData: { vtepMac: mac(k) }, ipMasq: true,
    leaseExpiresAt: 0, store: { name: "embedded", location: "/run/weft/lab/t/store", healthy: true, lastError: null },
    peers: peers.map(peerStatus),
    reconcile: { runs: 3, failures: 0, problems: 0, lastAt: "2025-01-01T00:00:05.000Z", lastDurationMs: 4, lastProblems: [], duration: new Histogram(RECONCILE_BUCKETS).snapshot() },
    paths: { runDir, stateDir: `/run/weft/lab/t/node${k}/lib`, subnetFile: `${runDir}/subnet.env`, socket: `${runDir}/agent.sock`, ipamDir: `/run/weft/lab/t/node${k}/lib/ipam` },
  };
  const connections: ConnectionStatus[] = peers.map((j) => ({
    node: `node${j}`, publicIp: ip(j), subnet: `10.244.${j}.0/24`, backend: "vxlan", target: `10.244.${j}.1`,
    reachable: true, rttMs: 0.1, mtu: 1450, mtuOk: true, error: null,
  }));
  const nft = [
    { table: { family: "ip", name: "weft" } },
    { chain: { family: "ip", table: "weft", name: "forward", hook: "forward" } },
    { chain: { family: "ip", table: "weft", name: "postrouting", hook: "postrouting" } },
    { rule: { family: "ip", table: "weft", chain: "forward", expr: [{ match: { right: { prefix: { addr: "10.244.0.0", len: 16 } } } }, { accept: null }] } },
    { rule: { family: "ip", table: "weft", chain: "postrouting", expr: [{ match: { right: { prefix: { addr: "10.244.0.0", len: 16 } } } }, { masquerade: null }] } },
  ];
  return {
    name: `node${k}`,
    paths: { runDir, socket: `${runDir}/agent.sock`, subnetFile: `${runDir}/subnet.env`, confDir: "/etc/cni/net.d", binDir: "/opt/cni/bin" },
    agentLog: `/logs/node${k}-agent.log`,
    onNode: (command) => `[node${k}] ${command}`,
    kernel: {
      ipForward: { ok: true, value: "1" },
      links: {
        ok: true,
        value: [
          link("lo", 65536, { flags: ["LOOPBACK", "UP"], link_type: "loopback" }, ["127.0.0.1/8"]),
          link("eth0", 1500, {}, [`${ip(k)}/24`]),
          link("weft0", 1450, { linkinfo: { info_kind: "bridge" } }, [`10.244.${k}.1/24`]),
          link(`weft.1`, 1450, { address: mac(k), linkinfo: { info_kind: "vxlan", info_data: { id: 1, local: ip(k), link: "eth0", port: 8472, learning: false } } }, [`10.244.${k}.0/32`]),
          link("veth1234", 1450, { master: "weft0", linkinfo: { info_kind: "veth" } }),
        ],
      },
      routes: {
        ok: true,
        value: [
          { dst: "default", gateway: "192.168.125.1", dev: "eth0", flags: [] },
          ...peers.map((j) => ({ dst: `10.244.${j}.0/24`, gateway: `10.244.${j}.0`, dev: "weft.1", flags: ["onlink"] })),
          { dst: `10.244.${k}.0/24`, dev: "weft0", protocol: "kernel", flags: [] },
          { dst: "192.168.125.0/24", dev: "eth0", protocol: "kernel", flags: [] },
        ],
      },
      hostgwRoutes: { ok: true, value: [] },
      vxlan: {
        ok: true,
        value: {
          device: "weft.1",
          routes: peers.map((j) => ({ dst: `10.244.${j}.0/24`, gateway: `10.244.${j}.0`, dev: "weft.1", flags: ["onlink"] })),
          neighs: peers.map((j) => ({ dst: `10.244.${j}.0`, lladdr: mac(j), state: ["PERMANENT"] })),
          fdb: peers.map((j) => ({ mac: mac(j), dst: ip(j), state: "permanent" })),
        },
      },
      nftTable: { ok: true, value: nft },
      forwardChains: { ok: true, value: [] },
      policyTable: { ok: true, value: null },
      proxyTable: { ok: true, value: null },
      kubeProxy: { ok: true, value: [] },
    },
    agent: {
      health: { ok: true, value: "ok\n" },
      ready: { ok: true, value: "ready\n" },
      status: { ok: true, value: status },
      connections: { ok: true, value: connections },
      // Network policy runs only with a Kubernetes API; this cluster's agents use the embedded store.
      policy: { ok: false, error: `network policy does not run on node${k}; it runs where the agent has a Kubernetes API (the kubernetes store or --kubeconfig) and --no-network-policy is not given` },
      services: { ok: false, error: `node${k} runs no service proxy; kube-proxy (or another proxy) serves this cluster's Services; set "serviceProxy": true in weft-config to make weft do it` },
    },
    cni: {
      confFiles: { ok: true, value: ["10-weft.conflist"] },
      conflist: { ok: true, value: JSON.stringify({ cniVersion: "1.0.0", name: "weft", plugins: [{ type: "weft", subnetFile: `${runDir}/subnet.env` }, { type: "portmap" }] }) },
      namedSubnetFile: { path: `${runDir}/subnet.env`, exists: true },
      plugin: { ok: true, value: { mode: 0o100755 } },
      pluginVersion: { ok: true, value: { code: 0, stdout: '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}', stderr: "" } },
      subnetFile: { ok: true, value: `WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.${k}.1/24\nWEFT_MTU=1450\nWEFT_IPMASQ=true\n` },
    },
    pathMtu: {},
  };
}

/** A healthy cluster of `n` nodes (a lab called `t`). */
export function fakeCluster(n: number): Cluster {
  return {
    nodes: Array.from({ length: n }, (_, i) => fakeNode(i + 1, n)),
    lab: { name: "t", upCommand: `weft lab up --name t --nodes ${n}` },
    kubernetes: null,
  };
}

/**
 * The same cluster on the kubernetes store: each agent's store is
 * kubernetes and the cluster holds node K's Node with podCIDR 10.244.K.0/24
 * and the annotations its agent publishes; kubeadm's podSubnet matches.
 */
export function fakeKubeCluster(n: number): Cluster {
  const cluster = fakeCluster(n);
  for (const node of cluster.nodes) {
    const status = (node.agent.status as { ok: true; value: AgentStatus }).value;
    status.store = { name: "kubernetes", location: "in-cluster 10.96.0.1:443", healthy: true, lastError: null };
  }
  cluster.kubernetes = {
    ok: true,
    value: {
      nodes: Array.from({ length: n }, (_, i) => ({
        name: `node${i + 1}`,
        podCidrs: [`10.244.${i + 1}.0/24`],
        internalIp: ip(i + 1),
        weft: { "public-ip": ip(i + 1), backend: "vxlan", "backend-data": JSON.stringify({ vtepMac: mac(i + 1) }) },
      })),
      allocation: { clusterCidr: "10.244.0.0/16", allocateNodeCidrs: true, source: "kube-system/kubeadm-config" },
      services: [],
      slices: [],
    },
  };
  return cluster;
}

/** The agent status of a fake node, for a test to change. */
export function statusOf(node: NodeFacts): AgentStatus {
  if (!node.agent.status.ok) throw new Error(`${node.name} has no status`);
  return node.agent.status.value;
}
