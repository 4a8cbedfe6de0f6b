import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { NftTransaction } from "./transaction.ts";
import { NFT_BAD_OBJECT } from "./objects.ts";
import { applyTransaction } from "./apply.ts";
import { FakeRunner } from "../fake-runner.ts";

const T = { family: "ip", name: "weft-proxy" } as const;

describe("NftTransaction.render", () => {
  const cases: { name: string; build: (tx: NftTransaction) => void; want: string[] }[] = [
    { name: "empty", build: () => {}, want: [] },
    { name: "table", build: (tx) => tx.addTable(), want: ["add table ip weft-proxy"] },
    { name: "delete table is safe when absent", build: (tx) => tx.deleteTable(), want: ["add table ip weft-proxy", "delete table ip weft-proxy"] },
    {
      name: "base chain with hook, priority and policy",
      build: (tx) => tx.addChain({ name: "nat-prerouting", base: { type: "nat", hook: "prerouting", priority: "dstnat" } }),
      want: ["add chain ip weft-proxy nat-prerouting { type nat hook prerouting priority dstnat ; policy accept ; }"],
    },
    {
      name: "drop policy and numeric priority",
      build: (tx) => tx.addChain({ name: "f", base: { type: "filter", hook: "forward", priority: -110, policy: "drop" }, comment: "x y" }),
      want: ['add chain ip weft-proxy f { type filter hook forward priority -110 ; policy drop ; comment "x y" ; }'],
    },
    { name: "regular chain", build: (tx) => tx.addChain({ name: "svc-a/b/tcp/http" }), want: ["add chain ip weft-proxy svc-a/b/tcp/http"] },
    {
      name: "verdict map with a concatenated key",
      build: (tx) => tx.addSet({ name: "service-ips", key: ["ipv4_addr", "inet_proto", "inet_service"], value: "verdict" }),
      want: ["add map ip weft-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }"],
    },
    {
      name: "dynamic set with timeout",
      build: (tx) => tx.addSet({ name: "aff", key: ["ipv4_addr"], flags: ["dynamic", "timeout"], timeoutSeconds: 10800 }),
      want: ["add set ip weft-proxy aff { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }"],
    },
    {
      name: "consecutive element operations on one set share a statement",
      build: (tx) =>
        tx
          .addElements("m", [{ key: ["10.96.0.1", "tcp", "443"], value: "goto svc-x" }])
          .addElements("m", [{ key: ["10.96.0.2", "udp", "53"], value: "goto svc-y" }])
          .deleteElements("m", [{ key: ["10.96.0.3", "tcp", "80"], value: "goto z" }])
          .addElements("s", []),
      want: [
        "add element ip weft-proxy m { 10.96.0.1 . tcp . 443 : goto svc-x, 10.96.0.2 . udp . 53 : goto svc-y }",
        "delete element ip weft-proxy m { 10.96.0.3 . tcp . 80 }",
      ],
    },
    {
      name: "element texts (one element or several) beside objects; a delete writes their keys",
      build: (tx) =>
        tx
          .addElements("m", ["10.96.0.1 . tcp . 443 : goto svc-x, 10.96.0.2 . udp . 53 : goto svc-y", ""])
          .addElements("m", [{ key: ["10.96.0.4", "tcp", "80"], value: "drop" }])
          .deleteElements("m", ["10.96.0.3 . tcp . 80 : goto z, 10.96.0.5 . tcp . 81 : drop"])
          .addElements("s", [""]),
      want: [
        "add element ip weft-proxy m { 10.96.0.1 . tcp . 443 : goto svc-x, 10.96.0.2 . udp . 53 : goto svc-y, 10.96.0.4 . tcp . 80 : drop }",
        "delete element ip weft-proxy m { 10.96.0.3 . tcp . 80, 10.96.0.5 . tcp . 81 }",
      ],
    },
    {
      name: "flush, rules and deletes keep their order",
      build: (tx) =>
        tx.flushChain("c").addRule("c", "ip saddr 10.0.0.1 jump mark").flushSet({ name: "s" }).flushSet({ name: "m", value: "verdict" })
          .deleteSet({ name: "s" }).deleteSet({ name: "m", value: "verdict" }).deleteChain("d").flushTable(),
      want: [
        "flush chain ip weft-proxy c",
        "add rule ip weft-proxy c ip saddr 10.0.0.1 jump mark",
        "flush set ip weft-proxy s",
        "flush map ip weft-proxy m",
        "delete set ip weft-proxy s",
        "delete map ip weft-proxy m",
        "delete chain ip weft-proxy d",
        "flush table ip weft-proxy",
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const tx = new NftTransaction(T);
      c.build(tx);
      assert.equal(tx.render(), c.want.length ? c.want.join("\n") + "\n" : "");
    });
  }

  test("many elements are split into statements of 2,000", () => {
    const tx = new NftTransaction(T);
    tx.addElements("s", Array.from({ length: 4500 }, (_, i) => ({ key: [String(i)] })));
    const lines = tx.render().trim().split("\n");
    assert.equal(lines.length, 3);
    assert.equal(tx.size, 4500);
    assert.ok(lines[2]!.startsWith("add element ip weft-proxy s { 4000, "));
  });

  test("element texts are counted by their elements; one that would overflow a statement is split", () => {
    const tx = new NftTransaction(T);
    tx.addElements("s", [...Array.from({ length: 900 }, (_, i) => `${3 * i}, ${3 * i + 1}, ${3 * i + 2}`), Array.from({ length: 4500 }, (_, i) => String(10_000 + i)).join(", ")]);
    const lines = tx.render().trim().split("\n");
    assert.equal(tx.size, 7200);
    assert.deepEqual(lines.map((l) => l.split(", ").length), [2000, 2000, 2000, 1200]);
    assert.ok(lines[1]!.startsWith("add element ip weft-proxy s { 2000, "));
    assert.ok(lines[2]!.startsWith("add element ip weft-proxy s { 11300, "));
  });

  test("names that are not identifiers are refused with NFT_BAD_OBJECT", () => {
    const tx = new NftTransaction(T);
    for (const bad of ["", "1abc", "a b", "a;flush ruleset", "x".repeat(256)]) {
      assert.throws(() => tx.addChain({ name: bad }), (e: { code?: string }) => e.code === NFT_BAD_OBJECT, bad);
    }
    assert.throws(() => tx.addChain({ name: "c", comment: 'a"b' }) && tx.render(), (e: { code?: string }) => e.code === NFT_BAD_OBJECT);
    assert.throws(() => new NftTransaction({ family: "ip", name: "bad name" }), (e: { code?: string }) => e.code === NFT_BAD_OBJECT);
  });
});

describe("applyTransaction", () => {
  test("runs one nft -f - with the script, and nothing for an empty transaction", async () => {
    const runner = new FakeRunner();
    await applyTransaction(runner, new NftTransaction(T));
    assert.equal(runner.calls.length, 0);
    await applyTransaction(runner, new NftTransaction(T).addTable());
    assert.deepEqual(runner.calls, [{ argv: ["nft", "-f", "-"], input: "add table ip weft-proxy\n" }]);
  });

  test("nft's refusal becomes KERNEL_COMMAND_FAILED with its message", async () => {
    const runner = new FakeRunner(() => ({ code: 1, stderr: "Error: No such file or directory" }));
    await assert.rejects(applyTransaction(runner, new NftTransaction(T).addTable()), /No such file or directory/);
  });
});
