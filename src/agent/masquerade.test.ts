import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeRunner } from "../kernel/fake-runner.ts";
import { ensureMasquerade, MasqueradeTable, masqueradeScript, removeMasquerade } from "./masquerade.ts";

test("the script replaces the whole table in one transaction", () => {
  assert.equal(masqueradeScript({ clusterCidr: "10.244.0.0/16", ipMasq: true }), `table ip weft {}
delete table ip weft
table ip weft {
  chain forward {
    type filter hook forward priority filter; policy accept;
    ip saddr 10.244.0.0/16 accept
    ip daddr 10.244.0.0/16 accept
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 10.244.0.0/16 ip daddr 10.244.0.0/16 return
    ip saddr 10.244.0.0/16 ip daddr 224.0.0.0/4 return
    ip saddr 10.244.0.0/16 masquerade
  }
}
`);
});

test("without ipMasq there is no nat chain, only forwarding", () => {
  const script = masqueradeScript({ clusterCidr: "10.244.0.0/16", ipMasq: false });
  assert.match(script, /chain forward/);
  assert.doesNotMatch(script, /postrouting|masquerade/);
});

test("with a VXLAN port, tunnel packets go untracked both ways, before conntrack sees them", () => {
  const script = masqueradeScript({ clusterCidr: "10.244.0.0/16", ipMasq: true, vxlanPort: 4789 });
  assert.match(script, /chain vxlan_in {\n    type filter hook prerouting priority raw; policy accept;\n    udp dport 4789 notrack\n  }/);
  assert.match(script, /chain vxlan_out {\n    type filter hook output priority raw; policy accept;\n    udp dport 4789 notrack\n  }/);
  assert.doesNotMatch(masqueradeScript({ clusterCidr: "10.244.0.0/16", ipMasq: true }), /notrack/);
});

test("a bad cluster CIDR is refused before nft runs", () => {
  assert.throws(() => masqueradeScript({ clusterCidr: "10.244.1.0/16", ipMasq: true }), { code: "INVALID_CIDR" });
});

test("ensure turns forwarding on and applies the script; remove deletes the table even if absent", async () => {
  const runner = new FakeRunner();
  await ensureMasquerade(runner, { clusterCidr: "10.244.0.0/16", ipMasq: true });
  await removeMasquerade(runner);
  assert.deepEqual(runner.calls.map((c) => c.argv), [
    ["sh", "-c", 'test "$(sysctl -n "$1")" = "$2" || sysctl -qw "$1=$2"', "sh", "net.ipv4.ip_forward", "1"],
    ["nft", "-f", "-"],
    ["nft", "list", "table", "ip", "weft"],
    ["nft", "-f", "-"],
  ]);
  assert.equal(runner.calls[1]!.input, masqueradeScript({ clusterCidr: "10.244.0.0/16", ipMasq: true }));
  assert.equal(runner.calls[3]!.input, "table ip weft {}\ndelete table ip weft\n");
});

test("the table's owner writes it only when it differs from what it wrote: a resync of an unchanged table is one read", async () => {
  let listing = "table ip weft { as written }";
  const runner = new FakeRunner((c) => (c.argv[1] === "list" ? { stdout: listing } : {}));
  const table = new MasqueradeTable();
  const options = { clusterCidr: "10.244.0.0/16", ipMasq: true };
  const writes = () => runner.calls.filter((c) => c.argv[1] === "-f").length;
  assert.equal(await table.ensure(runner, options), true, "the first ensure writes");
  assert.equal(await table.ensure(runner, options), false, "nothing changed: nothing written");
  assert.equal(writes(), 1);
  listing = "table ip weft { someone else's rule }";
  assert.equal(await table.ensure(runner, options), true, "drift: written again");
  listing = "table ip weft { as written }";
  assert.equal(await table.ensure(runner, { ...options, ipMasq: false }), true, "new options: written");
  assert.equal(writes(), 3);
});
