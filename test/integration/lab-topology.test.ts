// `weft lab up`: the switch, nodes and outside host, the table, the
// underlay between nodes and to the outside server, and the flags that shape
// a lab. Agents are the stand-in from lab/testing.ts (WEFT_LAB_AGENT_CMD).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { labLayout, nodeNs, OUTSIDE_IP, OUTSIDE_PORT } from "../../src/lab/layout.ts";
import type { LabState } from "../../src/lab/state.ts";
import { askEcho, FAKE_AGENT_CMD, inNetns, uniqueLabName, weft, weftOk } from "../../src/lab/testing.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

describe("lab topology", { skip }, () => {
  const name = uniqueLabName("topo");
  const lab = labLayout(name);
  after(() => weft(["lab", "down", "--name", name]));

  test("up builds three nodes, prints progress and the node table", async () => {
    const out = await weftOk(["lab", "up", "--no-kubernetes", "--name", name]);
    assert.match(out, new RegExp(`^lab ${name}: creating namespaces`, "m"));
    assert.match(out, /^NAME +UNDERLAY IP +SUBNET +BACKEND +READY$/m);
    for (const k of [1, 2, 3]) {
      assert.match(out, new RegExp(`^node${k} +192\\.168\\.125\\.10${k} +10\\.244\\.${k}\\.0/24 +vxlan +yes$`, "m"));
    }
    const namespaces = readdirSync("/run/netns");
    for (const ns of [lab.switchNs, lab.outsideNs, ...[1, 2, 3].map((k) => nodeNs(lab, `node${k}`))]) assert.ok(namespaces.includes(ns), ns);
  });

  test("each node has eth0 on the underlay, lo up and a default route via the outside host", async () => {
    for (const k of [1, 2, 3]) {
      const ns = nodeNs(lab, `node${k}`);
      const addrs = JSON.parse(await inNetns(ns, ["ip", "-j", "addr"])) as { ifname: string; operstate: string; flags: string[]; addr_info: { family: string; local: string; prefixlen: number }[] }[];
      const eth0 = addrs.find((l) => l.ifname === "eth0")!;
      assert.deepEqual(eth0.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`), [`192.168.125.10${k}/24`]);
      assert.ok(addrs.find((l) => l.ifname === "lo")!.flags.includes("UP"));
      const routes = JSON.parse(await inNetns(ns, ["ip", "-j", "route"])) as { dst: string; gateway?: string; dev: string }[];
      assert.deepEqual(routes.find((r) => r.dst === "default"), { dst: "default", gateway: OUTSIDE_IP, dev: "eth0", flags: [] });
    }
  });

  test("nodes reach each other over the underlay", async () => {
    await inNetns(nodeNs(lab, "node1"), ["ping", "-c", "1", "-W", "2", "192.168.125.102"]);
    await inNetns(nodeNs(lab, "node3"), ["ping", "-c", "1", "-W", "2", "192.168.125.101"]);
  });

  test("the outside server reports each node's own underlay address", async () => {
    for (const k of [1, 2, 3]) assert.equal(await askEcho(nodeNs(lab, `node${k}`), OUTSIDE_IP, OUTSIDE_PORT), `192.168.125.10${k}`);
  });

  test("lab exec runs in a node's namespace and passes the exit status through", async () => {
    assert.match(await weftOk(["lab", "exec", "node2", "--name", name, "--", "ip", "-br", "addr", "show", "eth0"]), /192\.168\.125\.102\/24/);
    const r = await weft(["lab", "exec", "node2", "--name", name, "--", "sh", "-c", "exit 7"]);
    assert.equal(r.code, 7);
    const missing = await weft(["lab", "exec", "node9", "--name", name, "--", "true"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^weft: lab .* has no pod or node called "node9"; its nodes are node1, node2, node3/);
  });

  test("a second lab with another name coexists on the same addresses", async () => {
    const other = labLayout(uniqueLabName("topo2"));
    try {
      assert.match(await weftOk(["lab", "up", "--no-kubernetes", "--name", other.name, "--nodes", "1"]), /^node1 +192\.168\.125\.101 /m);
      assert.equal(await askEcho(nodeNs(other, "node1"), OUTSIDE_IP, OUTSIDE_PORT), "192.168.125.101");
      assert.equal(await askEcho(nodeNs(lab, "node2"), OUTSIDE_IP, OUTSIDE_PORT), "192.168.125.102");
      const r = await weft(["lab", "exec", "node1", "--name", other.name, "--", "ping", "-c", "1", "-W", "1", "192.168.125.102"]);
      assert.notEqual(r.code, 0, "the other lab's underlay has no node2");
    } finally {
      await weft(["lab", "down", "--name", other.name]);
    }
    assert.equal(await askEcho(nodeNs(lab, "node1"), OUTSIDE_IP, OUTSIDE_PORT), "192.168.125.101", "the first lab is untouched");
  });

  test("up again on a lab that is up is a one-line error", async () => {
    const r = await weft(["lab", "up", "--no-kubernetes", "--name", name]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `weft: lab ${name} is already up; run weft lab down --name ${name}\n`);
  });
});

describe("lab flags: --nodes, --backend, --store etcd, --pod-cidr, --iface, --scenario", { skip }, () => {
  const name = uniqueLabName("flags");
  const lab = labLayout(name);
  after(() => weft(["lab", "down", "--name", name]));

  test("shape the topology and the agents' command lines", async () => {
    // The stand-in agent becomes ready only once etcd answers on the outside host.
    const agent = `until curl -sf http://${OUTSIDE_IP}:2379/health >/dev/null; do sleep 0.1; done; ${FAKE_AGENT_CMD}`;
    const out = await weftOk(
      ["lab", "up", "--no-kubernetes", "--name", name, "--nodes", "2", "--backend", "host-gw", "--store", "etcd", "--pod-cidr", "10.50.0.0/16", "--iface", "eth1", "--scenario", "wrong-iface"],
      { WEFT_LAB_AGENT_CMD: agent },
    );
    assert.match(out, /^node2 +192\.168\.125\.102 +10\.244\.2\.0\/24 +host-gw +yes$/m);
    assert.doesNotMatch(out, /node3/);

    const state = JSON.parse(readFileSync(lab.stateFile, "utf8")) as LabState;
    const argv = state.daemons.find((d) => d.name === "node1-agent")!.argv;
    const flag = (f: string) => argv[argv.indexOf(f) + 1];
    assert.equal(flag("--backend"), "host-gw");
    assert.equal(flag("--store"), "etcd");
    assert.equal(flag("--etcd-endpoints"), `http://${OUTSIDE_IP}:2379`);
    assert.equal(flag("--pod-cidr"), "10.50.0.0/16");
    assert.equal(flag("--iface"), "eth1");
    assert.equal(flag("--node-name"), "node1");

    // wrong-iface: every node's eth0 has the same NAT address and the default route; the switch link is eth1.
    for (const [k, node] of ["node1", "node2"].entries()) {
      const route = await inNetns(nodeNs(lab, node), ["ip", "route", "show", "default"]);
      assert.match(route, /^default via 10\.0\.2\.2 dev eth0/);
      assert.match(await inNetns(nodeNs(lab, node), ["ip", "-br", "addr", "show", "eth0"]), /10\.0\.2\.15\/24/);
      assert.match(await inNetns(nodeNs(lab, node), ["ip", "-br", "addr", "show", "eth1"]), new RegExp(`192\\.168\\.125\\.10${k + 1}/24`));
    }
  });

  test("invalid flags are one-line errors", async () => {
    for (const [args, message] of [
      [["--scenario", "nope"], /unknown scenario "nope"; known scenarios: wrong-iface, no-forwarding, mtu-mismatch, overlap/],
      [["--nodes", "0"], /invalid --nodes 0/],
      [["--backend", "udp"], /invalid --backend "udp"; use one of vxlan, host-gw/],
      [["--store", "consul"], /invalid --store "consul"/],
      [["--pod-cidr", "10.0.0.1/8"], /host bits are set/],
    ] as const) {
      const r = await weft(["lab", "up", "--no-kubernetes", "--name", uniqueLabName("bad"), ...args]);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.split("\n").length, 2, r.stderr);
    }
    const r = await weft(["lab", "up", "--no-kubernetes", "--name", "Bad_Name"]);
    assert.match(r.stderr, /^weft: invalid lab name "Bad_Name"/);
  });
});
