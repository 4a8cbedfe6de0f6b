import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeRunner } from "../kernel/fake-runner.ts";
import { sampleStatus } from "../../test/support/agent-status.ts";
import { AGENT_NOT_SET_UP, measureConnections, parsePing } from "./connections.ts";

const IPUTILS_REPLY = `PING 10.244.2.0 (10.244.2.0) 56(84) bytes of data.
64 bytes from 10.244.2.0: icmp_seq=1 ttl=64 time=0.238 ms

--- 10.244.2.0 ping statistics ---
1 packets transmitted, 1 received, 0% packet loss, time 0ms
rtt min/avg/max/mdev = 0.238/0.238/0.238/0.000 ms
`;
const IPUTILS_LOST = `PING 10.244.3.0 (10.244.3.0) 56(84) bytes of data.

--- 10.244.3.0 ping statistics ---
1 packets transmitted, 0 received, 100% packet loss, time 0ms

`;
const IPUTILS_FRAG = `PING 10.244.2.0 (10.244.2.0) 1422(1450) bytes of data.
From 192.168.125.1 icmp_seq=1 Frag needed and DF set (mtu = 1400)

--- 10.244.2.0 ping statistics ---
1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms
`;
const BUSYBOX_REPLY = `PING 10.244.2.0 (10.244.2.0): 56 data bytes
64 bytes from 10.244.2.0: seq=0 ttl=64 time=1.071 ms

--- 10.244.2.0 ping statistics ---
1 packets transmitted, 1 packets received, 0% packet loss
round-trip min/avg/max = 1.071/1.071/1.071 ms
`;
const QUIET_REPLY = `PING 10.244.2.0 (10.244.2.0) 56(84) bytes of data.

--- 10.244.2.0 ping statistics ---
1 packets transmitted, 1 received, 0% packet loss, time 0ms
rtt min/avg/max/mdev = 0.512/0.512/0.512/0.000 ms
`;

test("ping output is read for replies, RTT and why there was none", () => {
  const cases: Array<[string, { code: number; stdout: string; stderr: string }, ReturnType<typeof parsePing>]> = [
    ["iputils reply", { code: 0, stdout: IPUTILS_REPLY, stderr: "" }, { replied: true, rttMs: 0.238, error: null }],
    ["busybox reply", { code: 0, stdout: BUSYBOX_REPLY, stderr: "" }, { replied: true, rttMs: 1.071, error: null }],
    ["summary only", { code: 0, stdout: QUIET_REPLY, stderr: "" }, { replied: true, rttMs: 0.512, error: null }],
    ["timeout", { code: 1, stdout: IPUTILS_LOST, stderr: "" }, { replied: false, rttMs: null, error: "no reply within 1 s" }],
    ["no route", { code: 2, stdout: "", stderr: "ping: connect: Network is unreachable\n" }, { replied: false, rttMs: null, error: "connect: Network is unreachable" }],
    [
      "local MTU",
      { code: 1, stdout: IPUTILS_LOST, stderr: "ping: local error: message too long, mtu=1400\n" },
      { replied: false, rttMs: null, error: "local error: message too long, mtu=1400" },
    ],
    ["ICMP frag needed", { code: 1, stdout: IPUTILS_FRAG, stderr: "" }, { replied: false, rttMs: null, error: "Frag needed and DF set (mtu = 1400)" }],
    ["exit 0 without a reply is no reply", { code: 0, stdout: IPUTILS_LOST, stderr: "" }, { replied: false, rttMs: null, error: "no reply within 1 s" }],
    ["a reply with a failing exit is no reply", { code: 1, stdout: IPUTILS_REPLY, stderr: "" }, { replied: false, rttMs: null, error: "no reply within 1 s" }],
  ];
  for (const [name, result, expected] of cases) assert.deepEqual(parsePing(result), expected, name);
});

test("every vxlan peer's VTEP address is pinged once small and once at the pod MTU with DF", async () => {
  const runner = new FakeRunner((call) => {
    const tooBig = call.argv.at(-1) === "10.244.3.0" && call.argv.includes("-M");
    return tooBig ? { code: 1, stdout: IPUTILS_FRAG } : { code: 0, stdout: IPUTILS_REPLY };
  });
  const result = await measureConnections(runner, sampleStatus());
  assert.deepEqual(
    runner.calls.map((c) => c.argv.join(" ")),
    [
      "ping -n -c 1 -W 1 10.244.2.0",
      "ping -n -c 1 -W 1 -M do -s 1422 10.244.2.0",
      "ping -n -c 1 -W 1 10.244.3.0",
      "ping -n -c 1 -W 1 -M do -s 1422 10.244.3.0",
    ],
  );
  assert.deepEqual(result, [
    { node: "node2", publicIp: "192.168.125.102", subnet: "10.244.2.0/24", backend: "vxlan", target: "10.244.2.0", reachable: true, rttMs: 0.238, mtu: 1450, mtuOk: true, error: null },
    {
      node: "node3",
      publicIp: "10.99.0.5",
      subnet: "10.244.3.0/24",
      backend: "vxlan",
      target: "10.244.3.0",
      reachable: true,
      rttMs: 0.238,
      mtu: 1450,
      mtuOk: false,
      error: "a 1450-byte don't-fragment ping got no reply (Frag needed and DF set (mtu = 1400)): the path MTU is smaller than the pod MTU",
    },
  ]);
});

test("a host-gw peer is pinged at its public IP, the address host-gw routes through", async () => {
  const runner = new FakeRunner(() => ({ code: 0, stdout: IPUTILS_REPLY }));
  const peer = { ...sampleStatus().peers[0]!, backend: "host-gw" };
  const [c] = await measureConnections(runner, sampleStatus({ peers: [peer] }));
  assert.equal(c!.target, "192.168.125.102");
  assert.deepEqual(runner.calls.map((call) => call.argv.at(-1)), ["192.168.125.102", "192.168.125.102"]);
});

test("an unreachable peer says why, and nothing is measured before the backend is set up", async () => {
  const runner = new FakeRunner(() => ({ code: 1, stdout: IPUTILS_LOST }));
  const [first] = await measureConnections(runner, sampleStatus({ peers: [sampleStatus().peers[0]!] }));
  assert.deepEqual([first!.reachable, first!.rttMs, first!.mtuOk, first!.error], [false, null, false, "no reply within 1 s"]);
  await assert.rejects(measureConnections(runner, sampleStatus({ mtu: null })), { code: AGENT_NOT_SET_UP });
});
