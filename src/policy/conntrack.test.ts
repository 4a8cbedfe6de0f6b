import { test } from "node:test";
import assert from "node:assert/strict";
import { deleteFlowArgv, deniedFlows, parseFlows } from "./conntrack.ts";
import { pod, policy } from "./testing.ts";
import { PolicyIndex } from "./world.ts";

const LISTING = `tcp      6 431995 ESTABLISHED src=10.244.1.2 dst=10.96.0.20 sport=40100 dport=80 src=10.244.1.3 dst=10.244.1.2 sport=8080 dport=40100 [ASSURED] mark=0 use=1
udp      17 25 src=10.244.1.4 dst=10.244.1.3 sport=5000 dport=81 src=10.244.1.3 dst=10.244.1.4 sport=81 dport=5000 mark=0 use=1
icmp     1 29 src=10.244.1.2 dst=10.244.1.3 type=8 code=0 id=7 src=10.244.1.3 dst=10.244.1.2 type=0 code=0 id=7 mark=0 use=1
sctp     132 3 COOKIE_WAIT src=10.244.1.1 dst=10.244.1.3 sport=9 dport=80 src=10.244.1.3 dst=10.244.1.1 sport=80 dport=9 mark=0 use=1
conntrack v1.4.7 (conntrack-tools): 4 flow entries have been shown.
`;

test("parseFlows reads TCP, UDP and SCTP entries with the real destination from the reply", () => {
  const f = parseFlows(LISTING);
  assert.deepEqual(f.map((x) => [x.protocol, x.src, x.dst, x.replySrc, x.replySport]), [
    ["TCP", "10.244.1.2", "10.96.0.20", "10.244.1.3", 8080],
    ["UDP", "10.244.1.4", "10.244.1.3", "10.244.1.3", 81],
    ["SCTP", "10.244.1.1", "10.244.1.3", "10.244.1.3", 80],
  ]);
});

test("deniedFlows: flows a policy now denies, judged at the real endpoint; the node's own flows stay", () => {
  const pods = [pod("x", "a", "10.244.1.2"), pod("x", "b", "10.244.1.3"), pod("x", "c", "10.244.1.4")];
  // b accepts TCP 8080 from a only.
  const index = new PolicyIndex({ pods, namespaces: [], policies: [policy("x", "b", { podSelector: { matchLabels: { pod: "b" } }, ingress: [{ peers: [{ podSelector: { matchLabels: { pod: "a" } } }], ports: [{ protocol: "TCP", port: 8080 }] }] })] });
  const denied = deniedFlows(index, parseFlows(LISTING), ["10.244.1.1"]);
  assert.deepEqual(denied.map((f) => [f.protocol, f.src]), [["UDP", "10.244.1.4"]]);
  assert.deepEqual(deleteFlowArgv(denied[0]!), ["conntrack", "-D", "-p", "udp", "--orig-src", "10.244.1.4", "--orig-port-src", "5000", "--orig-dst", "10.244.1.3", "--orig-port-dst", "81", "--reply-src", "10.244.1.3", "--reply-port-src", "81"]);
});
