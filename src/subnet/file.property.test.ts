/**
 * Property: any text read as a subnet file gives either a subnet the plugin
 * can use (a gateway that is a host address of a node subnet inside the
 * cluster CIDR, with room for pods, an MTU in range) which formats back to
 * the same subnet, or SUBNET_FILE_INVALID naming the file; never another
 * error.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatSubnetFile, parseSubnetFile, SUBNET_FILE_INVALID } from "./file.ts";
import { contains, lastOf } from "../lib/ipv4.ts";

const octet = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 1, 255, 256, -1));
const address = fc.oneof(fc.tuple(octet, octet, octet, octet).map((o) => o.join(".")), fc.constantFrom("10.244.0.0", "10.244.1.1", "10.244.1.0", "10.244.1.255", "1.2.3", "01.2.3.4", ""));
const len = fc.oneof(fc.integer({ min: 0, max: 33 }), fc.constantFrom(16, 24, 30, 31, 32));
const cidr = fc.oneof(fc.tuple(address, len).map(([a, l]) => `${a}/${l}`), address, fc.string());
const value = (key: string): fc.Arbitrary<string> => {
  switch (key) {
    case "WEFT_NETWORK":
      return fc.oneof(cidr, fc.constant("10.244.0.0/16"));
    case "WEFT_SUBNET":
      return fc.oneof(cidr, fc.integer({ min: 0, max: 255 }).map((h) => `10.244.1.${h}/24`));
    case "WEFT_MTU":
      return fc.oneof(fc.integer({ min: 0, max: 70000 }).map(String), fc.constantFrom("1450", "1e3", "0x5aa", " 1450", "-1", "1450.0", ""), fc.string());
    case "WEFT_IPMASQ":
      return fc.oneof(fc.constantFrom("true", "false", "TRUE", "1", ""), fc.string());
    default:
      return fc.string();
  }
};
const KEYS = ["WEFT_NETWORK", "WEFT_SUBNET", "WEFT_MTU", "WEFT_IPMASQ"];
const line = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KEYS, "OTHER", "").chain((k) => value(k).map((v) => `${k}=${v}`)) },
  { weight: 1, arbitrary: fc.constantFrom("", "# comment", "  ", "=x", "garbage", "\r") },
  { weight: 1, arbitrary: fc.string({ unit: "binary" }) },
);
/** Files of such lines, and the four keys written well with one of them changed. */
const file = fc.oneof(
  fc.array(line, { maxLength: 8 }).map((ls) => ls.join("\n")),
  fc.constantFrom(...KEYS).chain((k) => value(k).map((v) => [k, v] as const)).map(([k, v]) => {
    const good: Record<string, string> = { WEFT_NETWORK: "10.244.0.0/16", WEFT_SUBNET: "10.244.1.1/24", WEFT_MTU: "1450", WEFT_IPMASQ: "true" };
    good[k] = v;
    return KEYS.map((key) => `${key}=${good[key]}`).join("\n");
  }),
  fc.string({ unit: "binary" }),
);

test("subnet file parser: a usable subnet or SUBNET_FILE_INVALID naming the file, for any text", (t) => {
  let accepted = 0;
  const out = fc.check(
    fc.property(file, (text) => {
      let s: ReturnType<typeof parseSubnetFile>;
      try {
        s = parseSubnetFile(text, "/run/weft/subnet.env");
      } catch (err) {
        assert.equal((err as { code?: string }).code, SUBNET_FILE_INVALID, String(err));
        assert.match((err as Error).message, /^malformed subnet file \/run\/weft\/subnet\.env: /);
        return;
      }
      accepted++;
      assert.ok(s.subnet.len >= s.network.len && s.subnet.len <= 30 && contains(s.network, s.subnet.base));
      assert.ok(contains(s.subnet, s.gateway) && s.gateway !== s.subnet.base && s.gateway !== lastOf(s.subnet), "the gateway is a host address");
      assert.ok(Number.isInteger(s.mtu) && s.mtu >= 576 && s.mtu <= 65535);
      assert.deepEqual(parseSubnetFile(formatSubnetFile(s), "/x"), s);
    }),
    { numRuns: Number(process.env.WEFT_PROPERTY_RUNS ?? 5000) },
  );
  assert.ok(!out.failed, fc.defaultReportMessage(out));
  t.diagnostic(`${out.numRuns} generated files, ${accepted} of them accepted`);
});
