import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IpamStore } from "./store.ts";
import { formatIp, parseIp, parsePrefix } from "../lib/ipv4.ts";
import type { Files } from "../sys/files.ts";

/** The Files contract over node:fs (the plugin's own goes through libc, which Node cannot load). */
const nodeFiles: Files = {
  readText(path) {
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  },
  writeText: (path, text, mode) => writeFileSync(path, text, { mode }),
  rename: renameSync,
  mkdirs: (path, mode) => void mkdirSync(path, { recursive: true, mode }),
};

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

test("a corrupt store is a clear error and is not overwritten", () => {
  withStore((s) => {
    s.allocate(subnet, gw, { containerId: "a", ifname: "eth0" });
    const file = join(s.dir, "allocations.json");
    writeFileSync(file, "{not json");
    assert.throws(() => s.allocate(subnet, gw, { containerId: "b", ifname: "eth0" }), /IPAM store .*allocations.json is not valid/);
    assert.equal(readFileSync(file, "utf8"), "{not json");
  });
});
