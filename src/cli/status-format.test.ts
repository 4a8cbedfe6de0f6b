import { test } from "node:test";
import assert from "node:assert/strict";
import { SAMPLE_NOW, sampleStatus } from "../../test/support/agent-status.ts";
import { WeftError } from "../lib/errors.ts";
import type { ConnectionStatus } from "../agent/status.ts";
import { formatConnections, formatIpam, formatPeers, formatSummary, relative } from "./status-format.ts";

const usage = {
  subnet: "10.244.1.0/24",
  capacity: 253,
  used: 2,
  free: 251,
  pods: [
    { ip: "10.244.1.2", pod: "default/web", containerId: "c2", ifname: "eth0" },
    { ip: "10.244.1.3", pod: null, containerId: "0123456789abcdef", ifname: "eth0" },
  ],
};

test("the summary names every part of the node, with the lease as a date and a countdown", () => {
  assert.equal(
    formatSummary(sampleStatus(), usage, SAMPLE_NOW),
    `      Node: node1
   Version: 0.1.0 (pid 4242, started 2024-12-31T23:00:00.000Z)
     Ready: yes
   Network: 10.244.0.0/16
    Subnet: 10.244.1.0/24 (gateway 10.244.1.1)
 Public IP: 192.168.125.101 on eth0 (MTU 1500)
   Backend: vxlan (pod MTU 1450)
   IP masq: yes
     Store: embedded at /var/lib/weft/store (healthy)
     Lease: expires 2025-01-01T23:59:30.000Z (in 23h59m)
     Peers: 1 programmed, 1 with problems
              node3: PEER_INVALID: its vtepMac is missing; restart its agent
              route 10.244.9.0/24: KERNEL_REJECTED: the kernel kept it: RTNETLINK answers: Operation not permitted
      IPAM: 2 used, 251 free of 253 in 10.244.1.0/24
Reconciles: 3 runs, 1 failures, last at 2024-12-31T23:59:30.000Z took 12 ms
`,
  );
});

test("a node that is not ready says what is missing, and what it cannot know yet", () => {
  const text = formatSummary(
    sampleStatus({
      ready: false,
      readiness: { lease: false, backend: true, subnetFile: false },
      subnet: null,
      gateway: null,
      mtu: null,
      leaseExpiresAt: null,
      peers: [],
      store: { name: "etcd", location: "http://192.168.125.1:2379", healthy: false, lastError: "connect ECONNREFUSED 192.168.125.1:2379" },
      reconcile: { ...sampleStatus().reconcile, runs: 0, failures: 0, lastAt: null, lastDurationMs: null, lastProblems: [] },
    }),
    null,
    SAMPLE_NOW,
  );
  for (const line of [
    "     Ready: no (missing: lease, subnetFile)",
    "    Subnet: none leased yet",
    "   Backend: vxlan (pod MTU not set up yet)",
    "     Store: etcd at http://192.168.125.1:2379 (unhealthy)\n              last error: connect ECONNREFUSED 192.168.125.1:2379",
    "     Lease: none",
    "     Peers: 0 programmed, 0 with problems\n",
    "      IPAM: - (no subnet yet)",
    "Reconciles: 0 runs, 0 failures\n",
  ]) {
    assert.ok(text.includes(line), `missing ${JSON.stringify(line)} in\n${text}`);
  }
  assert.match(formatSummary(sampleStatus(), new WeftError("IPAM_STORE_INVALID", "IPAM store /x is not valid: bad"), SAMPLE_NOW), /^ {6}IPAM: unavailable: IPAM store \/x is not valid: bad$/m);
});

test("relative times use the two largest units", () => {
  const cases: Array<[number, string]> = [
    [42_000, "in 42s"],
    [(5 * 60 + 3) * 1000, "in 5m3s"],
    [(23 * 3600 + 59 * 60 + 59) * 1000, "in 23h59m"],
    [(2 * 86400 + 3 * 3600) * 1000, "in 2d3h"],
    [-300_000, "expired 5m0s ago"],
  ];
  for (const [ms, text] of cases) assert.equal(relative(ms), text);
});

test("peers: the node itself first, problems as a code in the table and the message below", () => {
  assert.equal(
    formatPeers([sampleStatus()], false),
    `NODE    PUBLIC IP         SUBNET          BACKEND   STATE
node1   192.168.125.101   10.244.1.0/24   vxlan     self
node2   192.168.125.102   10.244.2.0/24   vxlan     programmed
node3   10.99.0.5         10.244.3.0/24   vxlan     problem: PEER_INVALID

node3: its vtepMac is missing; restart its agent
`,
  );
  const node2 = sampleStatus({ node: "node2", publicIp: "192.168.125.102", subnet: "10.244.2.0/24", peers: [] });
  assert.equal(
    formatPeers([sampleStatus(), node2], true),
    `NODE    PEER    PUBLIC IP         SUBNET          BACKEND   STATE
node1   node1   192.168.125.101   10.244.1.0/24   vxlan     self
node1   node2   192.168.125.102   10.244.2.0/24   vxlan     programmed
node1   node3   10.99.0.5         10.244.3.0/24   vxlan     problem: PEER_INVALID
node2   node2   192.168.125.102   10.244.2.0/24   vxlan     self

node1 -> node3: its vtepMac is missing; restart its agent
`,
  );
});

test("ipam: real numbers for the asked node, - for peers whose stores live elsewhere", () => {
  assert.equal(
    formatIpam([{ status: sampleStatus(), ipam: usage }], false),
    `NODE    SUBNET          USED   FREE   PODS
node1   10.244.1.0/24   2      251    default/web,0123456789ab
node2   10.244.2.0/24   -      -      -
node3   10.244.3.0/24   -      -      -
`,
  );
  const node2 = sampleStatus({ node: "node2", subnet: "10.244.2.0/24" });
  assert.equal(
    formatIpam(
      [
        { status: sampleStatus(), ipam: usage },
        { status: node2, ipam: new WeftError("IPAM_STORE_INVALID", "IPAM store /n2 is not valid: bad") },
        { status: sampleStatus({ node: "node3", subnet: null }), ipam: null },
      ],
      true,
    ),
    `NODE    SUBNET          USED   FREE   PODS
node1   10.244.1.0/24   2      251    default/web,0123456789ab
node2   10.244.2.0/24   -      -      -
node3   <none>          -      -      -

node2: IPAM store /n2 is not valid: bad
`,
  );
});

test("connections: state, RTT and MTU verdict per peer; errors below", () => {
  const base = { publicIp: "192.168.125.102", subnet: "10.244.2.0/24", backend: "vxlan", mtu: 1450 };
  const connections: ConnectionStatus[] = [
    { ...base, node: "node2", target: "10.244.2.1", reachable: true, rttMs: 0.312, mtuOk: true, error: null },
    { ...base, node: "node3", publicIp: "192.168.125.103", target: "10.244.3.1", reachable: true, rttMs: 12.34, mtuOk: false, error: "the path MTU is smaller" },
    { ...base, node: "node4", publicIp: "192.168.125.104", target: "10.244.4.1", reachable: false, rttMs: null, mtuOk: false, error: "no reply within 1 s" },
  ];
  assert.equal(
    formatConnections([{ node: "node1", connections }], false),
    `PEER    PUBLIC IP         TARGET       STATE         RTT      MTU
node2   192.168.125.102   10.244.2.1   reachable     0.31ms   1450 ok
node3   192.168.125.103   10.244.3.1   reachable     12ms     1450 too big
node4   192.168.125.104   10.244.4.1   unreachable   -        -

node3: the path MTU is smaller
node4: no reply within 1 s
`,
  );
  assert.equal(
    formatConnections([{ node: "node1", connections: connections.slice(0, 1) }, { node: "node2", connections: [] }], true),
    `NODE    PEER    PUBLIC IP         TARGET       STATE       RTT      MTU
node1   node2   192.168.125.102   10.244.2.1   reachable   0.31ms   1450 ok
`,
  );
});
