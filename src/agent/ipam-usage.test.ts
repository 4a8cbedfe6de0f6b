import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { IPAM_STORE_INVALID, readIpamUsage, storeFile } from "./ipam-usage.ts";

const root = mkdtempSync(join(tmpdir(), "weft-ipam-usage-"));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh IPAM data dir holding `content` as its store file `name`. */
function storeWith(content: string, name = "addresses"): string {
  const dir = join(root, String(n++));
  mkdirSync(dirname(storeFile(dir)), { recursive: true });
  writeFileSync(join(dirname(storeFile(dir)), name), content);
  return dir;
}

/** One 512-byte record of the store file, written out by hand. */
const rec = (line: string) => `${line.padEnd(511)}\n`;

test("the store file is <ipamDir>/weft/addresses", () => {
  assert.equal(storeFile("/var/lib/weft/ipam"), "/var/lib/weft/ipam/weft/addresses");
});

test("a missing store means nothing is used; capacity leaves out network, gateway and broadcast", () => {
  assert.deepEqual(readIpamUsage(join(root, "none"), "10.244.1.0/24"), { subnet: "10.244.1.0/24", capacity: 253, used: 0, free: 253, pods: [] });
  assert.equal(readIpamUsage(join(root, "none"), "10.244.1.0/28").capacity, 13);
  assert.equal(readIpamUsage(join(root, "none"), "10.244.1.0/31").capacity, 0);
});

const expected = {
  subnet: "10.244.1.0/24",
  capacity: 253,
  used: 2,
  free: 251,
  pods: [
    { ip: "10.244.1.9", pod: null, containerId: "c9", ifname: "eth0" },
    { ip: "10.244.1.10", pod: "default/web", containerId: "c10", ifname: "eth0" },
  ],
};

test("allocations in the subnet are counted and listed by address; free records and other subnets are left out", () => {
  const dir = storeWith(
    rec("weft-ipam 2 last=10.244.1.10") + rec("10.244.1.10 c10 eth0 default/web") + rec("") + rec("10.244.7.2 old eth0 default/gone") + rec("10.244.1.9 c9 eth0 -"),
  );
  assert.deepEqual(readIpamUsage(dir, "10.244.1.0/24"), expected);
});

test("a version-1 store no plugin call has carried over yet is read as it is", () => {
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
    "allocations.json",
  );
  assert.deepEqual(readIpamUsage(dir, "10.244.1.0/24"), expected);
});

test("a damaged store is IPAM_STORE_INVALID naming the file", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["addresses", "{}", /record 0 does not begin with "weft-ipam 2"/],
    ["addresses", rec("weft-ipam 23"), /record 0 does not begin/],
    ["addresses", rec("weft-ipam 2 next=10.244.1.3"), /record 0 is not "weft-ipam 2 last=<address>"/],
    ["addresses", rec("weft-ipam 2") + rec("10.244.1.3 c eth0"), /record 1 is not "<address> <containerId> <ifname> <pod>"/],
    ["addresses", rec("weft-ipam 2") + rec("") + rec("10.244.1.300 c eth0 -"), /record 2 is not/],
    ["addresses", rec("weft-ipam 2") + rec("10.244.1.3 c eth0 web%E0"), /record 1 has a malformed %-encoding/],
    ["allocations.json", '{"version":1,"allocations":{', /is not valid: .*JSON/],
    ["allocations.json", '{"version":2,"allocations":{}}', /expected \{"version":1/],
    ["allocations.json", '{"version":1,"allocations":[]}', /expected \{"version":1/],
    ["allocations.json", "null", /expected \{"version":1/],
    ["allocations.json", '{"version":1,"allocations":{"10.244.1.300":{"containerId":"c","ifname":"eth0"}}}', /"10\.244\.1\.300" is not an IPv4 address/],
    ["allocations.json", '{"version":1,"allocations":{"10.244.1.3":{"ifname":"eth0"}}}', /the owner of 10\.244\.1\.3 is not/],
    ["allocations.json", '{"version":1,"allocations":{"10.244.1.3":{"containerId":"c","ifname":"eth0","pod":7}}}', /the owner of 10\.244\.1\.3 is not/],
  ];
  for (const [name, content, why] of cases) {
    const dir = storeWith(content, name);
    assert.throws(
      () => readIpamUsage(dir, "10.244.1.0/24"),
      (err: Error & { code?: string }) => err.code === IPAM_STORE_INVALID && err.message.includes(join(dirname(storeFile(dir)), name)) && why.test(err.message),
      content,
    );
  }
});
