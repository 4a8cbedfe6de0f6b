import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STORE_UNAVAILABLE, type Lease } from "../types.ts";
import { parseRecordName, readHead, recordName, writeVersion } from "./records.ts";

const root = mkdtempSync(join(tmpdir(), "weft-records-"));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `d${++dirs}`);

const lease = (node: string, subnet = "10.244.3.0/24"): Lease => ({
  subnet,
  attrs: { node, publicIp: "192.168.125.101", backend: "host-gw", backendData: {} },
  expiresAt: Date.now() + 60_000,
});

describe("record names", () => {
  const cases: Array<[string, { subnet: string; version: number } | undefined]> = [
    ["10.244.3.0-24.v1.json", { subnet: "10.244.3.0/24", version: 1 }],
    ["10.244.3.0-24.v42.json", { subnet: "10.244.3.0/24", version: 42 }],
    ["10.244.3.0-24.v0.json", undefined],
    ["10.244.3.0-24.v01.json", undefined],
    ["10.244.3.0-24.json", undefined],
    [".tmp-1-abc", undefined],
    ["10.244.3.7-24.v1.json", undefined],
  ];
  for (const [name, parsed] of cases) {
    test(name, () => {
      assert.deepEqual(parseRecordName(name), parsed);
      if (parsed) assert.equal(recordName(parsed.subnet.replace("/", "-"), parsed.version), name);
    });
  }
});

describe("writeVersion", () => {
  test("creates the directory, and of two writers of one version the first wins", async () => {
    const dir = freshDir();
    assert.deepEqual(await readHead(dir, "10.244.3.0/24"), { version: 0, lease: undefined });
    assert.equal(await writeVersion(dir, "10.244.3.0/24", 1, lease("a")), true);
    assert.equal(await writeVersion(dir, "10.244.3.0/24", 1, lease("b")), false);
    assert.equal((await readHead(dir, "10.244.3.0/24")).lease?.attrs.node, "a");
    assert.deepEqual(readdirSync(dir), ["10.244.3.0-24.v1.json"]);
  });

  test("a new version replaces the old files; a tombstone reads as no lease", async () => {
    const dir = freshDir();
    await writeVersion(dir, "10.244.3.0/24", 1, lease("a"));
    await writeVersion(dir, "10.244.3.0/24", 2, lease("a"));
    assert.equal(await writeVersion(dir, "10.244.3.0/24", 3, undefined), true);
    assert.deepEqual(readdirSync(dir), ["10.244.3.0-24.v3.json"]);
    assert.deepEqual(await readHead(dir, "10.244.3.0/24"), { version: 3, lease: undefined });
  });

  test("a stale writer reusing a removed version number loses", async () => {
    const dir = freshDir();
    for (let v = 1; v <= 3; v++) await writeVersion(dir, "10.244.3.0/24", v, lease("a"));
    // It read head 1 long ago and now writes 2, which was removed when 3 came.
    assert.equal(await writeVersion(dir, "10.244.3.0/24", 2, lease("stale")), false);
    assert.deepEqual(readdirSync(dir), ["10.244.3.0-24.v3.json"]);
    assert.equal((await readHead(dir, "10.244.3.0/24")).lease?.attrs.node, "a");
  });

  test("temporary files a crashed writer left are swept once old", async () => {
    const dir = freshDir();
    await writeVersion(dir, "10.244.3.0/24", 1, lease("a"));
    writeFileSync(join(dir, ".tmp-999999-old"), "{");
    writeFileSync(join(dir, ".tmp-999999-new"), "{");
    const longAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(dir, ".tmp-999999-old"), longAgo, longAgo);
    await writeVersion(dir, "10.244.3.0/24", 2, lease("a"));
    assert.deepEqual(readdirSync(dir).sort(), [".tmp-999999-new", "10.244.3.0-24.v2.json"]);
  });

  test("an unusable directory is STORE_UNAVAILABLE naming it", async () => {
    const file = join(root, "a-file");
    writeFileSync(file, "");
    const dir = join(file, "store");
    await assert.rejects(writeVersion(dir, "10.244.3.0/24", 1, lease("a")), (err: Error & { code?: string }) => {
      assert.equal(err.code, STORE_UNAVAILABLE);
      assert.equal(err.message, `embedded store ${dir} is unusable: ENOTDIR`);
      return true;
    });
    await assert.rejects(readHead(dir, "10.244.3.0/24"), { code: STORE_UNAVAILABLE });
  });
});
