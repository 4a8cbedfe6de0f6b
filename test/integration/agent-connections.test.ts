/**
 * measureConnections against real pings: a "node" namespace joined by a
 * veth to a "peer" namespace that holds the peer's VTEP address, as its
 * vxlan device would. One peer answers, one is routed but silent, one has no
 * route; then the path MTU shrinks, far away (a silent drop) and locally
 * (a route MTU), and the full-size probe fails while small pings still work.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { measureConnections } from "../../src/agent/connections.ts";
import type { PeerStatus } from "../../src/agent/status.ts";
import { createRunner } from "../../src/kernel/runner.ts";
import { sampleStatus } from "../support/agent-status.ts";
import { ipIn, Namespaces } from "../support/netns.ts";

describe("connections", { timeout: 60_000 }, () => {
  const spaces = new Namespaces("wcon");
  let node: string, peer: string;

  const peerAt = (name: string, subnet: string): PeerStatus => ({ ...sampleStatus().peers[0]!, node: name, subnet });
  const status = sampleStatus({
    mtu: 1500,
    peers: [peerAt("answers", "10.244.2.0/24"), peerAt("silent", "10.244.3.0/24"), peerAt("unrouted", "10.244.4.0/24")],
  });
  const measure = async () => new Map((await measureConnections(createRunner(node), status)).map((c) => [c.node, c]));

  before(() => {
    node = spaces.add("node");
    peer = spaces.add("peer");
    ipIn(node, "link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", peer);
    ipIn(node, "addr", "add", "192.168.77.1/24", "dev", "v0");
    ipIn(peer, "addr", "add", "192.168.77.2/24", "dev", "v1");
    ipIn(peer, "addr", "add", "10.244.2.0/32", "dev", "lo");
    ipIn(node, "link", "set", "v0", "up");
    ipIn(peer, "link", "set", "v1", "up");
    ipIn(node, "route", "add", "10.244.2.0/24", "via", "192.168.77.2");
    // The peer namespace does not forward, so 10.244.3.0 is dropped there.
    ipIn(node, "route", "add", "10.244.3.0/24", "via", "192.168.77.2");
  });
  after(() => spaces.removeAll());

  test("a peer that answers, one that is silent, one without a route", async () => {
    const c = await measure();
    const answers = c.get("answers")!;
    assert.deepEqual([answers.target, answers.reachable, answers.mtu, answers.mtuOk, answers.error], ["10.244.2.0", true, 1500, true, null]);
    assert.ok(answers.rttMs !== null && answers.rttMs > 0 && answers.rttMs < 1000, `rtt ${answers.rttMs}`);
    const silent = c.get("silent")!;
    assert.deepEqual([silent.target, silent.reachable, silent.rttMs, silent.mtuOk, silent.error], ["10.244.3.0", false, null, false, "no reply within 1 s"]);
    const unrouted = c.get("unrouted")!;
    assert.deepEqual([unrouted.reachable, unrouted.mtuOk], [false, false]);
    assert.match(unrouted.error!, /Network is unreachable/);
  });

  test("a smaller MTU at the far end: small pings pass, the full-size DF ping is lost", async () => {
    ipIn(peer, "link", "set", "v1", "mtu", "1400");
    try {
      const answers = (await measure()).get("answers")!;
      assert.deepEqual([answers.reachable, answers.mtuOk], [true, false]);
      assert.match(answers.error!, /^a 1500-byte don't-fragment ping got no reply.*: the path MTU is smaller than the pod MTU$/);
    } finally {
      ipIn(peer, "link", "set", "v1", "mtu", "1500");
    }
  });

  test("a smaller route MTU here: ping says so itself", async () => {
    ipIn(node, "route", "replace", "10.244.2.0/24", "via", "192.168.77.2", "mtu", "1400");
    const answers = (await measure()).get("answers")!;
    assert.deepEqual([answers.reachable, answers.mtuOk], [true, false]);
    assert.match(answers.error!, /message too long, mtu=1400/);
  });
});
