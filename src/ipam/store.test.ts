import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IpamStore } from "./store.ts";
import { formatIp, parseIp, parsePrefix } from "../lib/ipv4.ts";
import { nodeFiles } from "../sys/node-files.ts";

/** One 512-byte record of the store file, written out by hand. */
const rec = (line: string) => `${line.padEnd(511)}\n`;

/**
 * Single-process tests: the lock keeps the Locker contract (it creates the
 * lock file, failing with ENOENT when the directory is missing) and is only
 * checked to be taken and released in pairs.
 */
function withStore(fn: (s: IpamStore, held: () => number) => void) {
  const dir = mkdtempSync(join(tmpdir(), "weft-ipam-"));
  let depth = 0;
  const lock = (path: string) => {
    assert.equal(depth, 0, "lock is not re-entered");
    closeSync(openSync(path, "a"));
    depth++;
    return () => void depth--;
  };
  try {
    fn(new IpamStore(dir, "weft", nodeFiles, lock), () => depth);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const subnet = parsePrefix("10.244.1.0/29"); // .1 gateway, .2-.6 pods, .7 broadcast
const gw = parseIp("10.244.1.1");

test("hands out addresses round-robin, skipping network, gateway and broadcast", () => {
  withStore((s, held) => {
    const ips = ["a", "b", "c", "d", "e"].map((id) => formatIp(s.allocate(subnet, gw, { containerId: id, ifname: "eth0" }).ip));
    assert.deepEqual(ips, ["10.244.1.2", "10.244.1.3", "10.244.1.4", "10.244.1.5", "10.244.1.6"]);
    assert.throws(() => s.allocate(subnet, gw, { containerId: "f", ifname: "eth0" }), /no free address in node subnet 10.244.1.0\/29: all 5 pod addresses are allocated/);
    assert.deepEqual(s.release({ containerId: "b", ifname: "eth0" }), ["10.244.1.3"]);
    assert.equal(formatIp(s.allocate(subnet, gw, { containerId: "f", ifname: "eth0" }).ip), "10.244.1.3");
    assert.equal(held(), 0);
  });
});

test("the same container and interface get the same address back; release is idempotent", () => {
  withStore((s) => {
    const first = s.allocate(subnet, gw, { containerId: "a", ifname: "eth0" });
    const again = s.allocate(subnet, gw, { containerId: "a", ifname: "eth0" });
    assert.deepEqual([first.fresh, again.fresh, again.ip], [true, false, first.ip]);
    assert.notEqual(s.allocate(subnet, gw, { containerId: "a", ifname: "net1" }).ip, first.ip);
    assert.equal(s.release({ containerId: "a", ifname: "eth0" }).length, 1);
    assert.deepEqual(s.release({ containerId: "a", ifname: "eth0" }), []);
    assert.deepEqual(s.release({ containerId: "never", ifname: "eth0" }), []);
  });
});

test("does not reuse a just-released address while others are free", () => {
  withStore((s) => {
    const a = s.allocate(subnet, gw, { containerId: "a", ifname: "eth0" }).ip;
    s.release({ containerId: "a", ifname: "eth0" });
    assert.notEqual(s.allocate(subnet, gw, { containerId: "b", ifname: "eth0" }).ip, a);
  });
});

test("GC releases everything not in the valid attachments", () => {
  withStore((s) => {
    for (const id of ["a", "b", "c"]) s.allocate(subnet, gw, { containerId: id, ifname: "eth0" });
    const gone = s.releaseAllExcept([{ containerId: "b", ifname: "eth0" }, { containerId: "zz", ifname: "eth0" }]);
    assert.deepEqual(gone.map((g) => g.containerId).sort(), ["a", "c"]);
    assert.deepEqual(s.list().map((g) => g.containerId), ["b"]);
  });
});

test("the file holds a header with the cursor and one 512-byte record per address; DEL blanks a record in place and ADD reuses it", () => {
  withStore((s) => {
    s.allocate(subnet, gw, { containerId: "a", ifname: "eth0", pod: "default/web" });
    s.allocate(subnet, gw, { containerId: "b", ifname: "net1" });
    assert.equal(readFileSync(s.file, "utf8"), rec("weft-ipam 2 last=10.244.1.3") + rec("10.244.1.2 a eth0 default/web") + rec("10.244.1.3 b net1 -"));
    s.release({ containerId: "a", ifname: "eth0" });
    assert.equal(readFileSync(s.file, "utf8"), rec("weft-ipam 2 last=10.244.1.3") + rec("") + rec("10.244.1.3 b net1 -"));
    s.allocate(subnet, gw, { containerId: "c", ifname: "é0", pod: "odd ns/wéb%" });
    // Non-ASCII and spaces %-encoded, so every record stays 512 bytes and one word per field.
    const text = rec("weft-ipam 2 last=10.244.1.4") + rec("10.244.1.4 c %C3%A90 odd%20ns/w%C3%A9b%25") + rec("10.244.1.3 b net1 -");
    assert.equal(readFileSync(s.file, "utf8"), text);
    assert.equal(statSync(s.file).size, text.length);
    assert.deepEqual(s.list(), [
      { ip: "10.244.1.4", containerId: "c", ifname: "é0", pod: "odd ns/wéb%" },
      { ip: "10.244.1.3", containerId: "b", ifname: "net1" },
    ]);
    assert.deepEqual(s.allocate(subnet, gw, { containerId: "c", ifname: "é0" }), { ip: parseIp("10.244.1.4"), fresh: false });
    assert.deepEqual(s.release({ containerId: "c", ifname: "é0" }), ["10.244.1.4"]);
  });
});

test("a pod name too long for its record is cut short, the rest of the record kept", () => {
  withStore((s) => {
    const id = "c".repeat(64);
    s.allocate(subnet, gw, { containerId: id, ifname: "eth0", pod: `default/${"x".repeat(600)}` });
    s.allocate(subnet, gw, { containerId: id, ifname: "eth1", pod: `default/${"é".repeat(300)}` });
    const [a, b] = s.list();
    assert.equal(a?.containerId, id);
    assert.equal(`10.244.1.2 ${id} eth0 ${a?.pod}`.length, 511);
    assert.match(b?.pod ?? "", /^default\/é{70}$/, "cut between characters, not inside one's encoding");
    assert.equal(statSync(s.file).size, 3 * 512);
  });
});

test("a version-1 store (allocations.json) is carried over on first use and then removed", () => {
  withStore((s) => {
    mkdirSync(s.dir, { recursive: true });
    const legacy = join(s.dir, "allocations.json");
    writeFileSync(
      legacy,
      JSON.stringify({ version: 1, last: "10.244.1.3", allocations: { "10.244.1.3": { containerId: "b", ifname: "eth0", pod: "default/db" }, "10.244.1.2": { containerId: "a", ifname: "eth0" } } }),
    );
    assert.deepEqual(s.allocate(subnet, gw, { containerId: "b", ifname: "eth0" }), { ip: parseIp("10.244.1.3"), fresh: false });
    assert.equal(existsSync(legacy), false);
    assert.equal(formatIp(s.allocate(subnet, gw, { containerId: "c", ifname: "eth0" }).ip), "10.244.1.4", "the cursor came along");
    assert.deepEqual(s.list().map((a) => `${a.ip} ${a.containerId} ${a.pod ?? "-"}`), ["10.244.1.3 b default/db", "10.244.1.2 a -", "10.244.1.4 c -"]);
  });
});

test("list (CHECK, STATUS) reads and never writes: no store made, no version-1 store carried over", () => {
  withStore((s) => {
    assert.deepEqual(s.list(), []);
    assert.equal(existsSync(s.dir), false);
    mkdirSync(s.dir, { recursive: true });
    const legacy = join(s.dir, "allocations.json");
    writeFileSync(legacy, JSON.stringify({ version: 1, allocations: { "10.244.1.2": { containerId: "a", ifname: "eth0" } } }));
    assert.deepEqual(s.list(), [{ ip: "10.244.1.2", containerId: "a", ifname: "eth0" }]);
    assert.equal(existsSync(s.file), false);
    assert.equal(existsSync(legacy), true);
  });
});

test("a corrupt store is a clear error and is not overwritten", () => {
  withStore((s) => {
    s.allocate(subnet, gw, { containerId: "a", ifname: "eth0" });
    // ADD reads the header and searches the records; DEL, GC and list parse every record.
    const cases: Array<[string, Array<() => unknown>]> = [
      ["{not json", [() => s.allocate(subnet, gw, { containerId: "b", ifname: "eth0" }), () => s.release({ containerId: "a", ifname: "eth0" }), () => s.list()]],
      [rec("weft-ipam 2 last=10.244.1.2") + rec("10.244.1.2 a eth0"), [() => s.release({ containerId: "a", ifname: "eth0" }), () => s.releaseAllExcept([]), () => s.list()]],
    ];
    for (const [bad, calls] of cases) {
      writeFileSync(s.file, bad);
      for (const call of calls) assert.throws(call, /IPAM store .*addresses is not valid: record \d/);
      assert.equal(readFileSync(s.file, "utf8"), bad);
    }
  });
});

test("ADD finds a free address past taken ones, and past many by reading every record", () => {
  withStore((s) => {
    const big = parsePrefix("10.244.2.0/24");
    const bigGw = parseIp("10.244.2.1");
    for (let i = 0; i < 20; i++) s.allocate(big, bigGw, { containerId: `c${i}`, ifname: "eth0" });
    // Back to the start: the cursor sits on .21, so the next search wraps round after .254.
    writeFileSync(s.file, readFileSync(s.file, "utf8").replace(/last=10\.244\.2\.21 /, "last=10.244.2.254"));
    assert.equal(formatIp(s.allocate(big, bigGw, { containerId: "x", ifname: "eth0" }).ip), "10.244.2.22");
    // A container ID that looks like an address is not mistaken for one.
    assert.equal(formatIp(s.allocate(big, bigGw, { containerId: "10.244.2.24", ifname: "eth0" }).ip), "10.244.2.23");
    assert.equal(formatIp(s.allocate(big, bigGw, { containerId: "y", ifname: "10.244.2.24" }).ip), "10.244.2.24");
    assert.deepEqual(s.allocate(big, bigGw, { containerId: "10.244.2.24", ifname: "eth0" }), { ip: parseIp("10.244.2.23"), fresh: false });
  });
});

test("a damaged version-1 store is a clear error and is left where it is", () => {
  withStore((s) => {
    mkdirSync(s.dir, { recursive: true });
    writeFileSync(join(s.dir, "allocations.json"), "{not json");
    assert.throws(() => s.list(), /IPAM store .*allocations.json \(version 1\) is not valid/);
    assert.equal(readFileSync(join(s.dir, "allocations.json"), "utf8"), "{not json");
    assert.equal(existsSync(s.file), false);
  });
});

test("ADD and DEL refuse a store whose records they would misread, and change nothing", () => {
  withStore((s) => {
    const good = rec("weft-ipam 2 last=10.244.1.2") + rec("10.244.1.2 a eth0 -") + rec("10.244.1.3 b eth0 -") + rec("10.244.1.4 c eth0 -");
    const R = 512;
    // [what, damaged text, the record the error names]
    const cases: Array<[string, string, RegExp]> = [
      ["a padding byte deleted", good.slice(0, R + 300) + good.slice(R + 301), /record 1 ends after 511 bytes, not 512 \(bytes 512-1023\)/],
      ["a byte inserted", good.slice(0, 2 * R + 100) + "x" + good.slice(2 * R + 100), /record 2 has no newline at its byte 511/],
      ["a live record turned to look free", good.slice(0, 2 * R) + " " + good.slice(2 * R + 1), /record 2 begins with a space but is not all spaces/],
      ["an address mangled", good.replace("10.244.1.3 b", "10.244.1x3 b"), /record 2 is not "<address> <containerId> <ifname> <pod>": it does not begin with an IPv4 address/],
      ["an address out of range", good.replace(rec("10.244.1.3 b eth0 -"), rec("10.244.1.256 b eth0 -")), /record 2 is not "<address> <containerId> <ifname> <pod>": it does not begin with an IPv4 address/],
      ["an address with a leading zero", good.replace(rec("10.244.1.3 b eth0 -"), rec("10.244.1.03 b eth0 -")), /record 2 is not "<address> <containerId> <ifname> <pod>": it does not begin with an IPv4 address/],
      ["an address mangled before its last octet", good.replace("10.244.1.4 c", "10.244.1x4 c"), /record 3 is not .*: it does not begin/],
      ["two records, one address", good.replace("10.244.1.4 c", "10.244.1.3 c"), /records 2 and 3 both hold 10\.244\.1\.3/],
      ["the last record cut short", good.slice(0, -1), /record 3 is cut short: 511 of 512 bytes/],
      ["a zero byte in a free record", good.slice(0, 3 * R) + "\u0000" + good.slice(3 * R + 1), /record 3 begins with a zero byte but is not all zeros/],
      ["the header's newline gone", good.slice(0, R - 1) + " " + good.slice(R), /record 0 is not "weft-ipam 2 last=<address>" and spaces to byte 511/],
      ["a non-ASCII byte where a record's padding was", good.slice(0, 2 * R) + "\u00e9" + good.slice(2 * R + 1), /record 2 is not .*: it does not begin/],
    ];
    mkdirSync(s.dir, { recursive: true });
    for (const [what, bad, re] of cases) {
      writeFileSync(s.file, bad, "latin1");
      const owner = { containerId: "c", ifname: "eth0" };
      for (const call of [() => s.allocate(subnet, gw, { containerId: "new", ifname: "eth0" }), () => s.release(owner), () => s.releaseAllExcept([]), () => s.list()]) {
        assert.throws(call, (e: Error & { code?: string; hint?: string }) => e.code === "IPAM_STORE_CORRUPT" && re.test(e.message) && /repair the file by hand/.test(e.hint ?? ""), what);
      }
      assert.equal(readFileSync(s.file, "latin1"), bad, `${what}: the file is as it was`);
    }
  });
});

test("DEL and GC make no store where there is none; a free record of zeros or a zero tail is fine", () => {
  withStore((s) => {
    assert.deepEqual(s.release({ containerId: "a", ifname: "eth0" }), []);
    assert.deepEqual(s.releaseAllExcept([]), []);
    assert.equal(existsSync(s.dir), false, "no store directory made");
    mkdirSync(s.dir, { recursive: true });
    assert.deepEqual(s.release({ containerId: "a", ifname: "eth0" }), []);
    assert.equal(existsSync(s.file), false, "no store file made");
    // A crash while the file grew leaves zeros: a whole record, or a tail.
    writeFileSync(s.file, rec("weft-ipam 2 last=10.244.1.2") + "\u0000".repeat(512) + rec("10.244.1.3 b eth0 -") + "\u0000".repeat(100));
    assert.equal(formatIp(s.allocate(subnet, gw, { containerId: "c", ifname: "eth0" }).ip), "10.244.1.4");
    assert.deepEqual(s.list().map((a) => a.ip), ["10.244.1.4", "10.244.1.3"]);
  });
});

test("damage ADD does not rely on (a record's words after its address, its padding) is refused by the full parse of DEL of that record, GC and list", () => {
  withStore((s) => {
    mkdirSync(s.dir, { recursive: true });
    const good = rec("weft-ipam 2 last=10.244.1.2") + rec("10.244.1.2 a eth0 -") + rec("10.244.1.3 b eth0 -");
    const cases: Array<[string, string]> = [
      ["a non-ASCII byte in the padding", good.slice(0, 512 + 300) + "\u00e9" + good.slice(512 + 301)],
      ["a control character in the pod name", good.replace(rec("10.244.1.2 a eth0 -"), rec("10.244.1.2 a eth0 \u0007"))],
      ["a fifth word", good.replace(rec("10.244.1.2 a eth0 -"), rec("10.244.1.2 a eth0 - x"))],
    ];
    for (const [what, bad] of cases) {
      writeFileSync(s.file, bad, "latin1");
      for (const call of [() => s.release({ containerId: "a", ifname: "eth0" }), () => s.releaseAllExcept([]), () => s.list()]) {
        assert.throws(call, (e: Error & { code?: string }) => e.code === "IPAM_STORE_CORRUPT" && /record 1 is not "<address> <containerId> <ifname> <pod>" in printable ASCII \(bytes 512-1023\)/.test(e.message), what);
      }
      assert.equal(readFileSync(s.file, "latin1"), bad, `${what}: the file is as it was`);
    }
  });
});

test("ADD sees addresses outside the first record's /24 too (a node whose subnet changed)", () => {
  withStore((s) => {
    mkdirSync(s.dir, { recursive: true });
    writeFileSync(s.file, rec("weft-ipam 2 last=10.244.1.2") + rec("10.244.1.2 a eth0 -") + rec("10.244.9.3 old eth0 -") + rec("10.244.1.3 b eth0 -") + rec("10.244.1.4 c eth0 -"));
    assert.equal(formatIp(s.allocate(subnet, gw, { containerId: "d", ifname: "eth0" }).ip), "10.244.1.5");
    writeFileSync(s.file, rec("weft-ipam 2") + rec("10.244.1.2 a eth0 -") + rec("10.244.9.3 old eth0 -") + rec("10.244.9.3 b eth0 -"));
    assert.throws(() => s.allocate(subnet, gw, { containerId: "d", ifname: "eth0" }), /records 2 and 3 both hold 10\.244\.9\.3/);
  });
});

test("ADD for an owner whose address is outside the node's subnet moves it into the subnet, in the same record: it never holds two", () => {
  withStore((s) => {
    mkdirSync(s.dir, { recursive: true });
    writeFileSync(s.file, rec("weft-ipam 2") + rec("10.244.1.2 a eth0 -") + rec("10.244.9.3 old eth0 -"));
    const got = s.allocate(subnet, gw, { containerId: "old", ifname: "eth0" });
    assert.deepEqual([formatIp(got.ip), got.fresh], ["10.244.1.3", true]);
    assert.deepEqual(s.list().map((a) => `${a.ip} ${a.containerId}`), ["10.244.1.2 a", "10.244.1.3 old"]);
    assert.deepEqual(s.release({ containerId: "old", ifname: "eth0" }), ["10.244.1.3"]);
  });
});
