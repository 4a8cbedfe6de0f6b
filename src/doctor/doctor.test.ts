import { test } from "node:test";
import assert from "node:assert/strict";
import type { Cluster } from "./facts.ts";
import { CHECKS, judge, lookTwiceIfBehind } from "./doctor.ts";
import type { Finding } from "./finding.ts";
import { fakeCluster, statusOf } from "./testing.ts";

test("a healthy cluster: every check ok on every node", () => {
  const findings = judge(fakeCluster(3));
  const bad = findings.filter((f) => f.status !== "ok");
  assert.deepEqual(bad, []);
  const checks = new Set(findings.filter((f) => f.node === "node1").map((f) => f.check));
  for (const c of ["agent", "forwarding", "public-ip", "node-subnets", "cluster-cidr", "backend", "peer node2", "peer node3", "path node2", "mtu", "nftables", "conflist", "plugin", "subnet-file", "store", "reconcile"]) {
    assert.ok(checks.has(c), `node1 has no ${c} finding`);
  }
});

test("the findings are grouped by node in check order", () => {
  const findings = judge(fakeCluster(2));
  assert.deepEqual([...new Set(findings.map((f) => f.node))], ["node1", "node2"]);
  assert.equal(findings[0]!.check, "agent");
  assert.equal(Object.keys(CHECKS)[0], "agent");
});

/** One broken fact and the finding it must produce on `node`. */
interface Case {
  name: string;
  nodes?: number;
  breakIt: (c: Cluster) => void;
  node: string;
  check: string;
  status: "warn" | "fail";
  message: RegExp;
  fix: RegExp;
}

const cases: Case[] = [
  {
    name: "forwarding off",
    breakIt: (c) => (c.nodes[1]!.kernel.ipForward = { ok: true, value: "0" }),
    node: "node2", check: "forwarding", status: "fail",
    message: /net\.ipv4\.ip_forward = 0/, fix: /^\[node2\] sysctl -w net\.ipv4\.ip_forward=1; the agent turns it on at start/,
  },
  {
    name: "every node advertises the NAT address: names the interface that reaches the others",
    breakIt: (c) => {
      for (const [i, n] of c.nodes.entries()) {
        const s = statusOf(n);
        s.publicIp = "10.0.2.15";
        for (const p of s.peers) p.publicIp = "10.0.2.15";
        const links = n.kernel.links.ok ? n.kernel.links.value : [];
        const eth0 = links.find((l) => l.ifname === "eth0")!;
        eth0.addr_info = [{ family: "inet", local: "10.0.2.15", prefixlen: 24 }];
        links.push({ ifindex: 9, ifname: "eth1", flags: ["UP"], mtu: 1500, addr_info: [{ family: "inet", local: `192.168.125.${101 + i}`, prefixlen: 24 }] });
      }
    },
    node: "node1", check: "public-ip", status: "fail",
    message: /advertises 10\.0\.2\.15 \(eth0\), as node2 and node3 do: an address every node shares/,
    fix: /^eth1 holds 192\.168\.125\.101, on the network the nodes share: restart the agents with --iface eth1 \(or --iface-can-reach 192\.168\.125\.102\); in this lab: weft lab down --name t && weft lab up --name t --nodes 3 --iface eth1$/,
  },
  {
    name: "a peer's lease shares this node's address (no other interface known)",
    nodes: 2,
    breakIt: (c) => (statusOf(c.nodes[0]!).peers[0]!.publicIp = "192.168.125.101"),
    node: "node1", check: "public-ip", status: "fail",
    message: /advertises 192\.168\.125\.101 \(eth0\), as node2 does/, fix: /--iface IFACE/,
  },
  {
    name: "a peer refused for its shared address points at public-ip",
    nodes: 2,
    breakIt: (c) => {
      const s = statusOf(c.nodes[0]!);
      s.peers[0]!.publicIp = "192.168.125.101";
      s.peers[0]!.state = "problem";
    },
    node: "node1", check: "peer node2", status: "fail",
    message: /not programmed: peer node2: it advertises 192\.168\.125\.101, which is this node's own address/, fix: /fix what the public-ip finding says/,
  },
  {
    name: "two nodes hold overlapping subnets",
    nodes: 2,
    breakIt: (c) => (statusOf(c.nodes[1]!).subnet = "10.244.1.0/24"),
    node: "node1", check: "node-subnets", status: "fail",
    message: /10\.244\.1\.0\/24 overlaps node2's 10\.244\.1\.0\/24/, fix: /same store/,
  },
  {
    name: "the cluster CIDR overlaps the underlay",
    breakIt: (c) => {
      for (const n of c.nodes) statusOf(n).network = "192.168.0.0/16";
    },
    node: "node2", check: "cluster-cidr", status: "fail",
    message: /the cluster CIDR 192\.168\.0\.0\/16 overlaps eth0's network 192\.168\.125\.0\/24 \(this node is 192\.168\.125\.102\)/,
    fix: /overlaps no host.*--pod-cidr 10\.244\.0\.0\/16; in this lab: .*weft lab up --name t --nodes 3 --pod-cidr 10\.244\.0\.0\/16/,
  },
  {
    name: "a peer route deleted by hand",
    breakIt: (c) => {
      const v = c.nodes[0]!.kernel.vxlan!;
      if (v.ok) v.value.routes = v.value.routes.filter((r) => r.dst !== "10.244.3.0/24");
    },
    node: "node1", check: "peer node3", status: "fail",
    message: /missing or wrong: route 10\.244\.3\.0\/24 via 10\.244\.3\.0 dev weft\.1 onlink/,
    fix: /resync puts it back.*by hand: \[node1\] ip route replace 10\.244\.3\.0\/24 via 10\.244\.3\.0 dev weft\.1 onlink; .*\/logs\/node1-agent\.log/,
  },
  {
    name: "a peer's neighbour entry with the wrong MAC",
    breakIt: (c) => {
      const v = c.nodes[0]!.kernel.vxlan!;
      if (v.ok) v.value.neighs[0]!.lladdr = "0a:58:00:00:00:01";
    },
    node: "node1", check: "peer node2", status: "fail",
    message: /neighbour 10\.244\.2\.0 lladdr 0a:58:0a:f4:02:00/, fix: /ip neigh replace/,
  },
  {
    name: "an FDB entry pointing at the wrong node",
    breakIt: (c) => {
      const v = c.nodes[0]!.kernel.vxlan!;
      if (v.ok) v.value.fdb[1]!.dst = "192.168.125.99";
    },
    node: "node1", check: "peer node3", status: "fail",
    message: /FDB entry 0a:58:0a:f4:03:00 dev weft\.1 dst 192\.168\.125\.103/, fix: /bridge fdb replace/,
  },
  {
    name: "a stale route of a departed node",
    breakIt: (c) => {
      const v = c.nodes[0]!.kernel.vxlan!;
      if (v.ok) v.value.routes.push({ dst: "10.244.9.0/24", gateway: "10.244.9.0", dev: "weft.1", flags: ["onlink"] });
    },
    node: "node1", check: "stale entry", status: "warn",
    message: /route 10\.244\.9\.0\/24 belongs to no peer's lease/, fix: /ip route del 10\.244\.9\.0\/24/,
  },
  {
    name: "a node whose lease this node's agent does not know",
    breakIt: (c) => (statusOf(c.nodes[0]!).peers = statusOf(c.nodes[0]!).peers.filter((p) => p.node !== "node3")),
    node: "node1", check: "peer node3", status: "fail",
    message: /node3 holds 10\.244\.3\.0\/24, but this node's agent has no lease for it/, fix: /same store/,
  },
  {
    name: "host-gw: a missing route",
    nodes: 2,
    breakIt: (c) => {
      const s = statusOf(c.nodes[0]!);
      s.backend = "host-gw";
      s.mtu = 1500;
      c.nodes[0]!.kernel.vxlan = null;
      c.nodes[0]!.cni.subnetFile = { ok: true, value: "WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.1.1/24\nWEFT_MTU=1500\nWEFT_IPMASQ=true\n" };
    },
    node: "node1", check: "peer node2", status: "fail",
    message: /route 10\.244\.2\.0\/24 via 192\.168\.125\.102 dev eth0 proto 87/, fix: /ip route replace 10\.244\.2\.0\/24 via 192\.168\.125\.102 dev eth0 proto 87/,
  },
  {
    name: "the vxlan device is gone",
    breakIt: (c) => (c.nodes[2]!.kernel.vxlan = null),
    node: "node3", check: "backend", status: "fail",
    message: /vxlan device weft\.<VNI> is missing/, fix: /restart the agent/,
  },
  {
    name: "the vxlan device sends from another address",
    breakIt: (c) => {
      const links = c.nodes[0]!.kernel.links;
      if (links.ok) links.value.find((l) => l.ifname === "weft.1")!.linkinfo!.info_data!["local"] = "10.0.2.15";
    },
    node: "node1", check: "backend", status: "fail",
    message: /weft\.1: it sends from 10\.0\.2\.15, not 192\.168\.125\.101/, fix: /restart the agent/,
  },
  {
    name: "a PMTU black hole, with the measured path MTU",
    breakIt: (c) => {
      const conns = c.nodes[0]!.agent.connections;
      if (conns.ok) conns.value[0]!.mtuOk = false;
      c.nodes[0]!.pathMtu = { "192.168.125.102": 1400 };
    },
    node: "node1", check: "path node2", status: "fail",
    message: /a 1450-byte don't-fragment packet does not: the path to 192\.168\.125\.102 carries 1400-byte packets while eth0 says 1500/,
    fix: /set eth0's MTU to 1400 on every node \(\[node1\] ip link set eth0 mtu 1400\) and restart the agents, so pods get 1350; or restart the agents with --mtu 1350/,
  },
  {
    name: "a peer that does not answer",
    breakIt: (c) => {
      const conns = c.nodes[1]!.agent.connections;
      if (conns.ok) Object.assign(conns.value[0]!, { reachable: false, mtuOk: false, error: "100% packet loss" });
    },
    node: "node2", check: "path node1", status: "fail",
    message: /node1 \(10\.244\.1\.1\) does not answer over vxlan \(100% packet loss\)/, fix: /UDP port 8472/,
  },
  {
    name: "a peer that does not answer, over another VXLAN port",
    breakIt: (c) => {
      const conns = c.nodes[1]!.agent.connections;
      if (conns.ok) Object.assign(conns.value[0]!, { reachable: false, mtuOk: false, error: "100% packet loss" });
      const links = c.nodes[1]!.kernel.links;
      if (links.ok) links.value.find((l) => l.ifname === "weft.1")!.linkinfo!.info_data!["port"] = 4789;
    },
    node: "node2", check: "path node1", status: "fail",
    message: /does not answer over vxlan/, fix: /UDP port 4789 through/,
  },
  {
    name: "the subnet file's MTU differs from the agent's",
    breakIt: (c) => (c.nodes[0]!.cni.subnetFile = { ok: true, value: "WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.1.1/24\nWEFT_MTU=1500\nWEFT_IPMASQ=true\n" }),
    node: "node1", check: "mtu", status: "fail",
    message: /WEFT_MTU=1500 but the agent's pod MTU is 1450/, fix: /rewrites the subnet file/,
  },
  {
    name: "the vxlan device is larger than the underlay carries",
    breakIt: (c) => {
      const links = c.nodes[0]!.kernel.links;
      if (links.ok) links.value.find((l) => l.ifname === "eth0")!.mtu = 1400;
      statusOf(c.nodes[0]!).underlay.mtu = 1400;
    },
    node: "node1", check: "mtu", status: "fail",
    message: /pods use MTU 1450, more than the 1350 bytes eth0's 1400 − 50 \(vxlan\) carries/, fix: /--mtu 1350/,
  },
  {
    name: "a pod made before the MTU changed",
    breakIt: (c) => {
      const links = c.nodes[0]!.kernel.links;
      if (links.ok) links.value.find((l) => l.ifname === "veth1234")!.mtu = 1500;
    },
    node: "node1", check: "mtu", status: "warn",
    message: /1 pod interface has an MTU other than 1450 \(veth1234 1500\)/, fix: /recreate those pods/,
  },
  {
    name: "nodes give pods different MTUs",
    nodes: 2,
    breakIt: (c) => (statusOf(c.nodes[1]!).mtu = 1400),
    node: "node1", check: "mtu", status: "warn",
    message: /pods here use MTU 1450, but node2's use 1400/, fix: /same underlay MTU/,
  },
  {
    name: "the conflist is missing",
    breakIt: (c) => (c.nodes[0]!.cni.conflist = { ok: false, error: "ENOENT: no such file or directory" }),
    node: "node1", check: "conflist", status: "fail",
    message: /cannot read \/etc\/cni\/net\.d\/10-weft\.conflist/, fix: /weft install-cni --bin-dir \/opt\/cni\/bin --conf-dir \/etc\/cni\/net\.d --subnet-file \/run\/weft\/lab\/t\/node1\/run\/subnet\.env --data-dir \/run\/weft\/lab\/t\/node1\/lib\/ipam/,
  },
  {
    name: "the conflist is not JSON",
    breakIt: (c) => (c.nodes[0]!.cni.conflist = { ok: true, value: "{nope" }),
    node: "node1", check: "conflist", status: "fail",
    message: /10-weft\.conflist is not valid JSON/, fix: /reinstall it/,
  },
  {
    name: "the conflist chains another plugin first",
    breakIt: (c) => (c.nodes[0]!.cni.conflist = { ok: true, value: JSON.stringify({ cniVersion: "1.0.0", plugins: [{ type: "portmap" }, { type: "weft" }] }) }),
    node: "node1", check: "conflist", status: "fail",
    message: /chains portmap, weft: weft must come first/, fix: /reinstall it/,
  },
  {
    name: "the conflist names a subnet file the agent does not write",
    breakIt: (c) => (c.nodes[0]!.cni.namedSubnetFile = { path: "/run/weft/subnet.env", exists: false }),
    node: "node1", check: "conflist", status: "fail",
    message: /reads \/run\/weft\/subnet\.env, but the agent writes \/run\/weft\/lab\/t\/node1\/run\/subnet\.env/, fix: /reinstall it pointing at the agent's file/,
  },
  {
    name: "another configuration sorts first",
    breakIt: (c) => (c.nodes[0]!.cni.confFiles = { ok: true, value: ["00-reference.conflist", "10-weft.conflist"] }),
    node: "node1", check: "conflist", status: "warn",
    message: /the runtime uses 00-reference\.conflist/, fix: /remove \/etc\/cni\/net\.d\/00-reference\.conflist/,
  },
  {
    name: "the plugin is missing",
    breakIt: (c) => (c.nodes[0]!.cni.plugin = { ok: false, error: "ENOENT" }),
    node: "node1", check: "plugin", status: "fail",
    message: /cannot find the plugin \/opt\/cni\/bin\/weft/, fix: /weft install-cni/,
  },
  {
    name: "the plugin is not executable",
    breakIt: (c) => (c.nodes[0]!.cni.plugin = { ok: true, value: { mode: 0o100644 } }),
    node: "node1", check: "plugin", status: "fail",
    message: /is not executable/, fix: /chmod 755 \/opt\/cni\/bin\/weft/,
  },
  {
    name: "the plugin does not answer VERSION",
    breakIt: (c) => (c.nodes[0]!.cni.pluginVersion = { ok: true, value: { code: 126, stdout: "", stderr: "cannot execute binary file" } }),
    node: "node1", check: "plugin", status: "fail",
    message: /does not answer VERSION \(exit status 126, said: cannot execute binary file\)/, fix: /reinstall it/,
  },
  {
    name: "the plugin does not support the conflist's version",
    breakIt: (c) => (c.nodes[0]!.cni.pluginVersion = { ok: true, value: { code: 0, stdout: '{"supportedVersions":["0.3.0"]}', stderr: "" } }),
    node: "node1", check: "plugin", status: "fail",
    message: /supports CNI 0\.3\.0, not the conflist's 1\.0\.0/, fix: /together/,
  },
  {
    name: "the subnet file is missing",
    breakIt: (c) => (c.nodes[0]!.cni.subnetFile = { ok: false, error: "ENOENT: no such file" }),
    node: "node1", check: "subnet-file", status: "fail",
    message: /ENOENT/, fix: /the agent writes it once it holds a lease/,
  },
  {
    name: "the subnet file names another subnet",
    breakIt: (c) => (c.nodes[0]!.cni.subnetFile = { ok: true, value: "WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.7.1/24\nWEFT_MTU=1450\nWEFT_IPMASQ=true\n" }),
    node: "node1", check: "subnet-file", status: "fail",
    message: /subnet 10\.244\.7\.0\/24, but the agent's lease is 10\.244\.1\.0\/24/, fix: /restart the agent/,
  },
  {
    name: "the agent is not running",
    breakIt: (c) => {
      const down = { ok: false as const, error: "cannot reach the weft agent at /x/agent.sock (connect ENOENT)" };
      c.nodes[0]!.agent = { health: down, ready: down, status: down, connections: down, policy: down, services: down };
    },
    node: "node1", check: "agent", status: "fail",
    message: /cannot reach the weft agent/, fix: /start the agent .*read its log \(\/logs\/node1-agent\.log\)/,
  },
  {
    name: "the agent is not ready",
    breakIt: (c) => (c.nodes[0]!.agent.ready = { ok: true, value: "not ready: lease\n" }),
    node: "node1", check: "agent", status: "fail",
    message: /the agent is not ready: lease/, fix: /wait a few seconds/,
  },
  {
    name: "the store fails",
    breakIt: (c) => Object.assign(statusOf(c.nodes[0]!).store, { name: "etcd", location: "http://10.0.0.5:2379", healthy: false, lastError: "connect ECONNREFUSED" }),
    node: "node1", check: "store", status: "fail",
    message: /the etcd store http:\/\/10\.0\.0\.5:2379 fails: connect ECONNREFUSED/, fix: /etcdctl --endpoints http:\/\/10\.0\.0\.5:2379 endpoint health/,
  },
  {
    name: "the last reconcile left problems",
    breakIt: (c) => (statusOf(c.nodes[0]!).reconcile.lastProblems = [{ peer: "node2", code: "KERNEL_REJECTED", message: "x" }]),
    node: "node1", check: "reconcile", status: "warn",
    message: /left 1 problem: node2 KERNEL_REJECTED/, fix: /weft status peers/,
  },
  {
    name: "the nftables table is gone",
    breakIt: (c) => (c.nodes[0]!.kernel.nftTable = { ok: true, value: null }),
    node: "node1", check: "nftables", status: "fail",
    message: /table ip weft is missing/, fix: /rewrites the table/,
  },
  {
    name: "another table's forward chain drops by policy",
    breakIt: (c) => (c.nodes[0]!.kernel.forwardChains = { ok: true, value: [{ family: "ip", table: "filter", name: "FORWARD", policy: "drop", rules: [] }] }),
    node: "node1", check: "nftables", status: "fail",
    message: /^chain ip filter FORWARD \(not weft's\) has policy drop and does not accept 10\.244\.0\.0\/16/,
    fix: /^\[node1\] nft insert rule ip filter FORWARD ip saddr 10\.244\.0\.0\/16 accept && \[node1\] nft insert rule ip filter FORWARD ip daddr 10\.244\.0\.0\/16 accept; on a Docker host.*DOCKER-USER/,
  },
  {
    name: "the masquerade rule is gone",
    breakIt: (c) => {
      const t = c.nodes[0]!.kernel.nftTable;
      if (t.ok) t.value = t.value!.slice(0, 4);
    },
    node: "node1", check: "nftables", status: "fail",
    message: /no masquerade rule/, fix: /rewrites the table/,
  },
];

for (const c of cases) {
  test(`finds: ${c.name}`, () => {
    const cluster = fakeCluster(c.nodes ?? 3);
    c.breakIt(cluster);
    const findings = judge(cluster);
    const hit = findings.find((f) => f.node === c.node && f.check === c.check && f.status === c.status && c.message.test(f.message));
    assert.ok(hit, `no ${c.status} ${c.check} on ${c.node} matching ${c.message}; got:\n${findings.filter((f) => f.status !== "ok").map((f) => `${f.node} ${f.check} ${f.status}: ${f.message}`).join("\n")}`);
    assert.match(hit.fix ?? "", c.fix);
  });
}

test("a check that throws becomes a failing finding, and the others still run", () => {
  const cluster = fakeCluster(2);
  statusOf(cluster.nodes[0]!).network = "not a cidr";
  const findings = judge(cluster).filter((f) => f.node === "node1");
  const crashed = findings.find((f) => f.check === "cluster-cidr")!;
  assert.equal(crashed.status, "fail");
  assert.match(crashed.message, /^the check could not run: invalid IPv4 CIDR "not a cidr"/);
  assert.ok(findings.some((f) => f.check === "plugin" && f.status === "ok"));
});

test("a proxy or policy table behind the API is looked at again after the settle time, and only the second look counts", async () => {
  const stale: Finding = { node: "node1", check: "service-proxy", status: "fail", message: "table ip weft-proxy is stale, behind the Services and EndpointSlices: missing 10.96.0.40:80/TCP", fix: "x" };
  const inStep: Finding = { node: "node1", check: "service-proxy", status: "ok", message: "table ip weft-proxy matches the API: 3 service ports, 9 map elements" };
  const looks = (...answers: Finding[][]) => {
    let n = 0;
    return { look: async () => answers[Math.min(n++, answers.length - 1)]!, count: () => n };
  };
  // A change in flight: the second look finds the table in step.
  const inFlight = looks([stale], [inStep]);
  const t0 = Date.now();
  assert.deepEqual(await lookTwiceIfBehind(inFlight.look, 50), [inStep]);
  assert.equal(inFlight.count(), 2);
  assert.ok(Date.now() - t0 >= 45, "waited before the second look");
  // A table that stays behind is reported.
  const behind = looks([stale], [stale]);
  assert.deepEqual(await lookTwiceIfBehind(behind.look, 1), [stale]);
  // Nothing behind (other failures included): one look.
  const other: Finding = { node: "node1", check: "forwarding", status: "fail", message: "net.ipv4.ip_forward is 0", fix: "x" };
  const once = looks([other, inStep]);
  assert.deepEqual(await lookTwiceIfBehind(once.look, 1), [other, inStep]);
  assert.equal(once.count(), 1);
  const policy = looks([{ ...stale, check: "policy", message: "table inet weft-policy is stale: missing chain in-10.244.1.5" }], [inStep]);
  assert.deepEqual(await lookTwiceIfBehind(policy.look, 1), [inStep]);
});
