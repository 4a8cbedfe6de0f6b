// The hop list over hand-written facts: a healthy two-node path per backend
// and a same-node path, then one table row per way to break a hop, each
// naming the first broken hop and what its message must say.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { WeftError } from "../lib/errors.ts";
import type { LinkFacts, Lookup, NodeFacts, PathFacts, PodFacts } from "./facts.ts";
import { buildTrace } from "./path.ts";

const up = ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"];
const addr = (local: string, prefixlen: number) => ({ family: "inet", local, prefixlen });

function pod(name: string, node: string, ip: string, peerIndex: number): PodFacts {
  const eth0: LinkFacts = { ifindex: 2, link_index: peerIndex, ifname: "eth0", flags: up, mtu: 1450, address: `02:00:00:00:00:0${peerIndex}`, linkinfo: { info_kind: "veth" }, addr_info: [addr(ip, 24)] };
  return { name, node, netns: `lab-pod-${name}`, ip, present: true, links: [eth0] };
}

function node(k: number, pods: { index: number; ip: string }[]): NodeFacts {
  const underlayIp = `192.168.125.${100 + k}`;
  const vtepMac = `0a:58:0a:f4:0${k}:00`;
  const links: LinkFacts[] = [
    { ifindex: 2, ifname: "eth0", flags: up, mtu: 1500, address: `aa:00:00:00:00:0${k}`, addr_info: [addr(underlayIp, 24)] },
    { ifindex: 3, ifname: "weft0", flags: up, mtu: 1450, linkinfo: { info_kind: "bridge" }, addr_info: [addr(`10.244.${k}.1`, 24)] },
    { ifindex: 4, ifname: "weft.1", flags: up, mtu: 1450, address: vtepMac, linkinfo: { info_kind: "vxlan", info_data: { id: 1, port: 8472, local: underlayIp, link: "eth0" } }, addr_info: [addr(`10.244.${k}.0`, 32)] },
    ...pods.map((p) => ({ ifindex: p.index, ifname: `veth${k}${p.index}`, master: "weft0", flags: up, mtu: 1450, link_index: 2, linkinfo: { info_kind: "veth", info_slave_kind: "bridge", info_slave_data: { state: "forwarding", hairpin: true } } })),
  ];
  const peer = 3 - k;
  return {
    name: `node${k}`,
    netns: `lab-node${k}`,
    underlayIp,
    underlayIface: "eth0",
    agentLog: `/run/weft/lab/lab/logs/node${k}-agent.log`,
    links,
    neighs: [{ dst: `10.244.${peer}.0`, dev: "weft.1", lladdr: `0a:58:0a:f4:0${peer}:00`, state: ["PERMANENT"] }],
    fdb: [{ mac: `0a:58:0a:f4:0${peer}:00`, ifname: "weft.1", dst: `192.168.125.${100 + peer}`, flags: ["self"], state: "permanent" }],
    ipForward: "1",
    forwardChains: [{ name: "ip weft forward", policy: "accept", dropRules: 0, acceptsPods: true }],
    agent: { ready: true, peerProblems: {} },
  };
}

const found = (route: NonNullable<Lookup["route"]>, query = "q"): Lookup => ({ query, route, error: null });
const failed = (error: string): Lookup => ({ query: "q", route: null, error });

/** Pods a (10.244.1.2) on node1 and c (10.244.2.2) on node2; vxlan unless host-gw is asked for. */
function crossNode(backend = "vxlan"): PathFacts {
  const n1 = node(1, [{ index: 5, ip: "10.244.1.2" }]);
  const n2 = node(2, [{ index: 5, ip: "10.244.2.2" }]);
  if (backend === "host-gw") {
    for (const n of [n1, n2]) {
      n.links = n.links.filter((l) => l.ifname !== "weft.1");
      n.neighs = [];
      n.fdb = [];
    }
  }
  const vx = backend === "vxlan";
  return {
    lab: "lab",
    backend,
    bridge: "weft0",
    from: pod("a", "node1", "10.244.1.2", 5),
    to: pod("c", "node2", "10.244.2.2", 5),
    src: n1,
    dst: n2,
    lookups: {
      podRoute: found({ dst: "10.244.2.2", gateway: "10.244.1.1", dev: "eth0", prefsrc: "10.244.1.2", flags: [] }),
      forward: found({ dst: "10.244.2.2", from: "10.244.1.2", iif: "weft0", gateway: vx ? "10.244.2.0" : "192.168.125.102", dev: vx ? "weft.1" : "eth0", flags: [] }),
      underlay: found({ dst: "192.168.125.102", from: "192.168.125.101", dev: "eth0", flags: [] }),
      deliver: found({ dst: "10.244.2.2", from: "10.244.1.2", iif: vx ? "weft.1" : "eth0", dev: "weft0", flags: [] }),
    },
  };
}

/** Pods a (10.244.1.2) and b (10.244.1.3) on node1. */
function sameNode(): PathFacts {
  const n1 = node(1, [{ index: 5, ip: "10.244.1.2" }, { index: 6, ip: "10.244.1.3" }]);
  return {
    lab: "lab",
    backend: "vxlan",
    bridge: "weft0",
    from: pod("a", "node1", "10.244.1.2", 5),
    to: pod("b", "node1", "10.244.1.3", 6),
    src: n1,
    dst: n1,
    lookups: { podRoute: found({ dst: "10.244.1.3", dev: "eth0", prefsrc: "10.244.1.2", flags: [] }) },
  };
}

const labels = (f: PathFacts) => buildTrace(f).hops.map((h) => `${h.at} ${h.what}`);

test("a healthy vxlan path between two nodes is 17 hops, all ok", () => {
  const r = buildTrace(crossNode());
  assert.deepEqual(labels(crossNode()), [
    "pod a eth0", "pod a route", "node1 veth of pod a", "node1 bridge weft0", "node1 forwarding", "node1 route",
    "node1 vxlan weft.1", "node1 neighbour", "node1 fdb", "node1 underlay eth0",
    "node2 underlay eth0", "node2 vxlan weft.1", "node2 forwarding", "node2 route", "node2 bridge weft0", "node2 veth of pod c", "pod c eth0",
  ]);
  assert.deepEqual([r.complete, r.brokenAt, r.sameNode], [true, null, false]);
  assert.deepEqual(r.hops.filter((h) => h.status !== "ok"), []);
  assert.deepEqual([r.from, r.to], [{ pod: "a", ip: "10.244.1.2", node: "node1" }, { pod: "c", ip: "10.244.2.2", node: "node2" }]);
});

test("a healthy host-gw path has no device, neighbour or FDB hops", () => {
  const r = buildTrace(crossNode("host-gw"));
  assert.equal(r.complete, true, JSON.stringify(r.hops.filter((h) => h.status !== "ok")));
  assert.deepEqual(labels(crossNode("host-gw")).slice(5, 8), ["node1 route", "node1 underlay eth0", "node2 underlay eth0"]);
  assert.equal(r.hops.length, 13);
});

test("pods on one node meet on the bridge: six hops, no forwarding", () => {
  assert.deepEqual(labels(sameNode()), ["pod a eth0", "pod a route", "node1 veth of pod a", "node1 bridge weft0", "node1 veth of pod b", "pod b eth0"]);
  assert.equal(buildTrace(sameNode()).complete, true);
});

test("an unknown backend is an error naming the ones trace knows", () => {
  assert.throws(() => buildTrace({ ...crossNode(), backend: "ipip" }), (err: WeftError) => err.code === "TRACE_BACKEND_UNKNOWN" && /"ipip"; it traces vxlan and host-gw$/.test(err.describe()));
});

/** One way to break a path: the facts, the first broken hop, what its missing and fix lines say. */
interface BreakCase {
  name: string;
  facts: () => PathFacts;
  /** The first hop that is not ok. */
  at: string;
  /** What that hop found, when it cannot be judged (status unknown); otherwise it is broken. */
  unknown?: RegExp;
  /** The first broken hop, when it is not `at` (after an unknown one). */
  brokenAt?: string;
  missing: RegExp;
  fix: RegExp;
}

const link = (n: NodeFacts | PodFacts, name: string) => n.links.find((l) => l.ifname === name)!;
const edit = (base: () => PathFacts, change: (f: PathFacts) => void) => () => {
  const f = base();
  change(f);
  return f;
};

const BREAKS: BreakCase[] = [
  { name: "pod namespace gone", facts: edit(crossNode, (f) => { f.from.present = false; f.from.links = []; }), at: "pod a eth0", missing: /network namespace/, fix: /weft lab rm a --name lab/ },
  { name: "pod eth0 down", facts: edit(crossNode, (f) => { link(f.from, "eth0").flags = ["BROADCAST"]; }), at: "pod a eth0", missing: /eth0 up/, fix: /ip -n lab-pod-a link set eth0 up/ },
  { name: "pod without its IP", facts: edit(crossNode, (f) => { link(f.from, "eth0").addr_info = []; }), at: "pod a eth0", missing: /the pod's IP 10\.244\.1\.2/, fix: /recreate the pod/ },
  { name: "pod without a route", facts: edit(crossNode, (f) => { f.lookups.podRoute = failed("Network is unreachable"); }), at: "pod a route", missing: /default route via the node's gateway 10\.244\.1\.1/, fix: /ip -n lab-pod-a route replace default via 10\.244\.1\.1 dev eth0/ },
  { name: "pod routing via a stranger", facts: edit(crossNode, (f) => { f.lookups.podRoute.route!.gateway = "10.244.1.254"; }), at: "pod a route", missing: /via node1's gateway 10\.244\.1\.1/, fix: /route replace default via 10\.244\.1\.1/ },
  { name: "host veth off the bridge", facts: edit(crossNode, (f) => { delete link(f.src, "veth15").master; }), at: "node1 veth of pod a", missing: /veth15 as a port of weft0/, fix: /ip -n lab-node1 link set veth15 master weft0/ },
  { name: "host veth gone", facts: edit(crossNode, (f) => { f.src.links = f.src.links.filter((l) => l.ifname !== "veth15"); }), at: "node1 veth of pod a", missing: /host end of the pod's veth on node1/, fix: /recreate the pod/ },
  { name: "bridge down", facts: edit(crossNode, (f) => { link(f.src, "weft0").flags = ["BROADCAST"]; }), at: "node1 bridge weft0", missing: /weft0 up/, fix: /ip -n lab-node1 link set weft0 up/ },
  { name: "bridge without address", facts: edit(crossNode, (f) => { link(f.src, "weft0").addr_info = []; }), at: "node1 bridge weft0", missing: /gateway address on weft0/, fix: /addr add GATEWAY\/LEN dev weft0/ },
  { name: "forwarding off on the source", facts: edit(crossNode, (f) => { f.src.ipForward = "0"; f.lookups.forward = failed("No route to host"); }), at: "node1 forwarding", missing: /does not route packets/, fix: /ip netns exec lab-node1 sysctl -w net\.ipv4\.ip_forward=1/ },
  { name: "no weft forward chain", facts: edit(crossNode, (f) => { f.src.forwardChains = []; }), at: "node1 forwarding", missing: /chain ip weft forward/, fix: /writes table ip weft when it starts/ },
  { name: "vxlan route missing", facts: edit(crossNode, (f) => { f.lookups.forward = found({ dst: "10.244.2.2", from: "10.244.1.2", iif: "weft0", gateway: "192.168.125.1", dev: "eth0", flags: [] }); }), at: "node1 route", missing: /10\.244\.2\.0\/24 via 10\.244\.2\.0 dev weft\.1/, fix: /ip -n lab-node1 route replace 10\.244\.2\.0\/24 via 10\.244\.2\.0 dev weft\.1 onlink \(the agent on node1 restores it/ },
  { name: "vxlan device gone on the source", facts: edit(crossNode, (f) => { f.src.links = f.src.links.filter((l) => l.ifname !== "weft.1"); }), at: "node1 vxlan weft.1", missing: /the vxlan device weft\.1/, fix: /creates weft\.1 when it starts/ },
  { name: "vxlan device on the wrong underlay", facts: edit(crossNode, (f) => { link(f.src, "weft.1").linkinfo!.info_data!["local"] = "10.0.2.15"; }), at: "node1 vxlan weft.1", missing: /local 192\.168\.125\.101 dev eth0/, fix: /--iface/ },
  { name: "neighbour missing", facts: edit(crossNode, (f) => { f.src.neighs = []; }), at: "node1 neighbour", missing: /permanent entry 10\.244\.2\.0 → node2's VTEP MAC 0a:58:0a:f4:02:00/, fix: /neigh replace 10\.244\.2\.0 lladdr 0a:58:0a:f4:02:00 dev weft\.1 nud permanent/ },
  { name: "neighbour stale", facts: edit(crossNode, (f) => { f.src.neighs[0]!.lladdr = "0a:58:0a:f4:09:00"; }), at: "node1 neighbour", missing: /lladdr 0a:58:0a:f4:02:00, the MAC of node2's weft\.1/, fix: /neigh replace/ },
  { name: "FDB missing", facts: edit(crossNode, (f) => { f.src.fdb = []; }), at: "node1 fdb", missing: /0a:58:0a:f4:02:00 → dst 192\.168\.125\.102/, fix: /bridge -n lab-node1 fdb replace 0a:58:0a:f4:02:00 dev weft\.1 dst 192\.168\.125\.102 self permanent/ },
  { name: "FDB to the wrong node", facts: edit(crossNode, (f) => { f.src.fdb[0]!.dst = "192.168.125.109"; }), at: "node1 fdb", missing: /dst 192\.168\.125\.102, node2's underlay address/, fix: /fdb replace/ },
  { name: "no underlay route", facts: edit(crossNode, (f) => { f.lookups.underlay = failed("Network is unreachable"); }), at: "node1 underlay eth0", missing: /route to node2's underlay address 192\.168\.125\.102/, fix: /ip -n lab-node1 addr show dev eth0/ },
  { name: "destination underlay down", facts: edit(crossNode, (f) => { link(f.dst, "eth0").flags = ["BROADCAST", "UP"]; }), at: "node2 underlay eth0", missing: /eth0 up/, fix: /ip -n lab-node2 link set eth0 up/ },
  { name: "destination VNI differs", facts: edit(crossNode, (f) => { link(f.dst, "weft.1").linkinfo!.info_data!["id"] = 2; }), at: "node2 vxlan weft.1", missing: /vni 1 port 8472, as on node1/, fix: /link del weft\.1/ },
  { name: "forwarding off on the destination", facts: edit(crossNode, (f) => { f.dst.ipForward = "0"; f.lookups.deliver = failed("No route to host"); }), at: "node2 forwarding", missing: /node2 does not route/, fix: /ip netns exec lab-node2 sysctl/ },
  { name: "destination delivers elsewhere", facts: edit(crossNode, (f) => { f.lookups.deliver = found({ dst: "10.244.2.2", from: "10.244.1.2", iif: "weft.1", gateway: "10.244.1.0", dev: "weft.1", flags: [] }); }), at: "node2 route", missing: /delivery on weft0/, fix: /addr show dev weft0/ },
  { name: "destination pod gone", facts: edit(crossNode, (f) => { f.to.present = false; f.to.links = []; }), at: "node2 veth of pod c", unknown: /pod c has no eth0 to follow/, brokenAt: "pod c eth0", missing: /the pod's network namespace/, fix: /weft lab rm c --name lab, then weft lab run c/ },
  { name: "host-gw route missing", facts: edit(() => crossNode("host-gw"), (f) => { f.lookups.forward = failed("Network is unreachable"); }), at: "node1 route", missing: /10\.244\.2\.0\/24 via 192\.168\.125\.102 dev eth0/, fix: /route replace 10\.244\.2\.0\/24 via 192\.168\.125\.102 dev eth0 proto 87/ },
  { name: "host-gw peer behind a router", facts: edit(() => crossNode("host-gw"), (f) => { f.lookups.underlay!.route!.gateway = "192.168.125.1"; }), at: "node1 underlay eth0", missing: /direct neighbour on eth0/, fix: /--backend vxlan/ },
  { name: "host-gw peer not answering ARP", facts: edit(() => crossNode("host-gw"), (f) => { f.src.neighs = [{ dst: "192.168.125.102", dev: "eth0", state: ["FAILED"] }]; }), at: "node1 underlay eth0", missing: /ARP for 192\.168\.125\.102/, fix: /same switch/ },
  { name: "same node: second pod's veth down", facts: edit(sameNode, (f) => { link(f.src, "veth16").flags = ["BROADCAST"]; }), at: "node1 veth of pod b", missing: /veth16 up/, fix: /link set veth16 up/ },
];

for (const c of BREAKS) {
  test(`broken: ${c.name}`, () => {
    const r = buildTrace(c.facts());
    assert.equal(r.complete, false);
    const first = r.hops[r.brokenAt! - 1]!;
    assert.equal(`${first.at} ${first.what}`, c.at, JSON.stringify(first));
    assert.equal(first.status, c.unknown ? "unknown" : "broken", JSON.stringify(first));
    if (c.unknown) assert.match(first.found, c.unknown);
    const broken = r.hops.find((h) => h.status === "broken")!;
    assert.equal(`${broken.at} ${broken.what}`, c.brokenAt ?? c.at);
    assert.match(broken.missing!, c.missing);
    assert.match(broken.fix!, c.fix);
  });
}

test("after a break every later hop is still judged from what is there", () => {
  const r = buildTrace(BREAKS.find((c) => c.name === "vxlan route missing")!.facts());
  assert.equal(r.brokenAt, 6);
  assert.deepEqual(r.hops.slice(6).map((h) => h.status), Array(11).fill("ok"));
});

test("a pod whose namespace is gone leaves the hops that follow it unknown", () => {
  const r = buildTrace(BREAKS[0]!.facts());
  assert.deepEqual(r.hops.slice(0, 3).map((h) => h.status), ["broken", "unknown", "unknown"]);
});

test("other tables' forward drops and a too-large pod MTU are notes, not breaks", () => {
  const f = crossNode();
  f.src.forwardChains.push(
    { name: "inet fw forward", policy: "accept", dropRules: 2, acceptsPods: false },
    { name: "ip filter FORWARD", policy: "drop", dropRules: 0, acceptsPods: false },
    // Policy drop, but it accepts the cluster CIDR both ways (what doctor's fix adds): no note.
    { name: "ip docker FORWARD", policy: "drop", dropRules: 0, acceptsPods: true },
  );
  link(f.from, "eth0").mtu = 1500;
  link(f.src, "veth15").linkinfo!.info_slave_data!.hairpin = false;
  const r = buildTrace(f);
  assert.equal(r.complete, true);
  const notes = r.hops.flatMap((h) => h.notes);
  assert.deepEqual(notes, [
    "hairpin off: the pod cannot reach itself through a service IP",
    "chain inet fw forward (not weft's) has 2 drop rules: it may drop pod traffic",
    "chain ip filter FORWARD (not weft's) has policy drop: it may drop pod traffic",
    "pod a's MTU 1500 exceeds weft.1's 1450: full-size packets are dropped",
  ]);
});

test("the source agent's view is a note on its route: down, not ready, or refusing the peer", () => {
  const notes = (change: (f: PathFacts) => void) => {
    const f = crossNode();
    change(f);
    return buildTrace(f).hops.find((h) => h.at === "node1" && h.what === "route")!.notes;
  };
  assert.deepEqual(notes(() => {}), []);
  assert.deepEqual(notes((f) => { f.src.agent = null; }), ["the agent on node1 does not answer on its socket, so nothing restores weft's state there; see /run/weft/lab/lab/logs/node1-agent.log"]);
  assert.deepEqual(notes((f) => { f.src.agent = { ready: false, peerProblems: { node2: "peer node2: it advertises 10.0.2.15, which is this node's own address" } }; }), [
    "the agent on node1 is not ready",
    "the agent on node1 leaves node2 out: peer node2: it advertises 10.0.2.15, which is this node's own address",
  ]);
  const f = crossNode();
  f.src.agent = { ready: true, peerProblems: { node2: "peer node2: bad" } };
  f.lookups.forward = failed("Network is unreachable");
  const hop = buildTrace(f).hops[5]!;
  assert.deepEqual([hop.what, hop.status, hop.fix], ["route", "broken", "the agent on node1 leaves node2 out (see the note): fix what it says, and it programs the route"]);
});
