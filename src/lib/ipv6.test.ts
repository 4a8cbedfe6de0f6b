import { test } from "node:test";
import assert from "node:assert/strict";
import { isIpv6 } from "./ipv6.ts";

const cases: Array<[string, boolean]> = [
  ["::", true], ["::1", true], ["fe80::1", true], ["2001:db8::", true], ["2001:db8:0:0:0:0:0:1", true], ["::ffff:10.1.2.3", true],
  ["1:2:3:4:5:6:10.1.2.3", true], ["ABCD:ef01::", true],
  ["", false], [":", false], [":::", false], ["1::2::3", false], ["1:2:3:4:5:6:7", false], ["1:2:3:4:5:6:7:8:9", false],
  ["1:2:3:4:5:6:7::8", false], ["12345::", false], ["g::", false], ["::10.1.2", false], ["10.1.2.3", false], ["fe80::1%eth0", false],
  ["1:", false], [":1", false], ["::1:", false], ["1:2:3:4:5:6:7:10.1.2.3", false],
];
for (const [text, ok] of cases) {
  test(`isIpv6(${JSON.stringify(text)}) is ${ok}`, () => assert.equal(isIpv6(text), ok));
}
