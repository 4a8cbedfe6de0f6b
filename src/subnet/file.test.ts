import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatSubnetFile, parseSubnetFile, readSubnetFile, writeSubnetFile } from "./file.ts";
import { formatIp, formatPrefix } from "../lib/ipv4.ts";

const good = "WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.1.1/24\nWEFT_MTU=1450\nWEFT_IPMASQ=true\n";

test("parses a subnet file and formats it back", () => {
  const s = parseSubnetFile(good, "/x");
  assert.equal(formatPrefix(s.network), "10.244.0.0/16");
  assert.equal(formatPrefix(s.subnet), "10.244.1.0/24");
  assert.equal(formatIp(s.gateway), "10.244.1.1");
  assert.equal(s.mtu, 1450);
  assert.equal(s.ipMasq, true);
  assert.equal(formatSubnetFile(s), good);
});

test("names the file and the key when malformed", () => {
  const cases: Array<[string, RegExp]> = [
    [good.replace("WEFT_MTU=1450\n", ""), /malformed subnet file \/x: WEFT_MTU is missing/],
    [good.replace("1450", "15x"), /WEFT_MTU="15x" is not valid/],
    [good.replace("10.244.1.1/24", "10.244.1.1"), /WEFT_SUBNET="10.244.1.1" is not valid/],
    [good.replace("true", "yes"), /WEFT_IPMASQ="yes" is not valid/],
    [good.replace("10.244.1.1/24", "10.99.1.1/24"), /is not inside WEFT_NETWORK=10.244.0.0\/16/],
    [good + "garbage\n", /line "garbage" is not KEY=VALUE/],
    [good.replace("10.244.1.1/24", "10.244.60.0/24"), /malformed subnet file \/x: WEFT_SUBNET=10\.244\.60\.0\/24 is the subnet's network address, which cannot be the gateway; the agent writes the first host address, 10\.244\.60\.1\/24/],
    [good.replace("10.244.1.1/24", "10.244.61.255/24"), /WEFT_SUBNET=10\.244\.61\.255\/24 is the subnet's broadcast address/],
    [good.replace("10.244.1.1/24", "10.244.1.3/30"), /WEFT_SUBNET=10\.244\.1\.3\/30 is the subnet's broadcast address/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseSubnetFile(text, "/x"), re);
});

test("a missing file says the agent has not leased yet; write is atomic", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-subnet-"));
  try {
    const path = join(dir, "run", "subnet.env");
    assert.throws(() => readSubnetFile(path), (e: Error & { code?: string }) => e.code === "SUBNET_FILE_MISSING" && /has not leased/.test(e.message));
    writeSubnetFile(path, parseSubnetFile(good, "/x"));
    assert.equal(formatIp(readSubnetFile(path).gateway), "10.244.1.1");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
