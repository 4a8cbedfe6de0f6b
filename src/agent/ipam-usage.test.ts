import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { allocationsFile, IPAM_STORE_INVALID, readIpamUsage } from "./ipam-usage.ts";

const root = mkdtempSync(join(tmpdir(), "weft-ipam-usage-"));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh IPAM data dir holding `content` as its allocations.json. */
function storeWith(content: string): string {
  const dir = join(root, String(n++));
  mkdirSync(dirname(allocationsFile(dir)), { recursive: true });
  writeFileSync(allocationsFile(dir), content);
  return dir;
}

test("the store file is <ipamDir>/weft/allocations.json", () => {
  assert.equal(allocationsFile("/var/lib/weft/ipam"), "/var/lib/weft/ipam/weft/allocations.json");
});

test("a missing store means nothing is used; capacity leaves out network, gateway and broadcast", () => {
  assert.deepEqual(readIpamUsage(join(root, "none"), "10.244.1.0/24"), { subnet: "10.244.1.0/24", capacity: 253, used: 0, free: 253, pods: [] });
  assert.equal(readIpamUsage(join(root, "none"), "10.244.1.0/28").capacity, 13);
  assert.equal(readIpamUsage(join(root, "none"), "10.244.1.0/31").capacity, 0);
});

test("allocations in the subnet are counted and listed by address; others are left out", () => {
  const dir = storeWith(
    JSON.stringify({
      version: 1,
      last: "10.244.1.10",
      allocations: {
        "10.244.1.10": { containerId: "c10", ifname: "eth0", pod: "default/web" },
        "10.244.1.9": { containerId: "c9", ifname: "eth0" },
        "10.244.7.2": { containerId: "old", ifname: "eth0", pod: "default/gone" },
      },
    }),
  );
  assert.deepEqual(readIpamUsage(dir, "10.244.1.0/24"), {
    subnet: "10.244.1.0/24",
    capacity: 253,
    used: 2,
    free: 251,
    pods: [
      { ip: "10.244.1.9", pod: null, containerId: "c9", ifname: "eth0" },
      { ip: "10.244.1.10", pod: "default/web", containerId: "c10", ifname: "eth0" },
    ],
  });
});

test("a damaged store is IPAM_STORE_INVALID naming the file", () => {
  const cases: Array<[string, RegExp]> = [
    ['{"version":1,"allocations":{', /is not valid: .*JSON/],
    ['{"version":2,"allocations":{}}', /expected \{"version":1/],
    ['{"version":1,"allocations":[]}', /expected \{"version":1/],
    ["null", /expected \{"version":1/],
    ['{"version":1,"allocations":{"10.244.1.300":{"containerId":"c","ifname":"eth0"}}}', /"10\.244\.1\.300" is not an IPv4 address/],
    ['{"version":1,"allocations":{"10.244.1.3":{"ifname":"eth0"}}}', /the owner of 10\.244\.1\.3 is not/],
    ['{"version":1,"allocations":{"10.244.1.3":{"containerId":"c","ifname":"eth0","pod":7}}}', /the owner of 10\.244\.1\.3 is not/],
  ];
  for (const [content, why] of cases) {
    const dir = storeWith(content);
    assert.throws(
      () => readIpamUsage(dir, "10.244.1.0/24"),
      (err: Error & { code?: string }) => err.code === IPAM_STORE_INVALID && err.message.includes(allocationsFile(dir)) && why.test(err.message),
      content,
    );
  }
});
