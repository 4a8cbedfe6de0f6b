import { test } from "node:test";
import assert from "node:assert/strict";
import { isCniName, isValidIfname } from "./env.ts";

const names: Array<[string, boolean]> = [
  ["weft", true], ["0abc_d.e-f", true], ["A", true], ["", false], ["-x", false], ["_x", false], [".x", false],
  ["a b", false], ["a/b", false], ["é", false], ["ab:c", false],
];
for (const [s, ok] of names) {
  test(`isCniName(${JSON.stringify(s)}) is ${ok}`, () => assert.equal(isCniName(s), ok));
}

const ifnames: Array<[string, boolean]> = [
  ["eth0", true], ["veth0123456789a", true], ["net-1.x_y", true], ["é0", true],
  ["", false], [".", false], ["..", false], ["veth0123456789ab", false], ["a/b", false], ["a:b", false],
  ["a b", false], ["a\tb", false], ["a\nb", false], ["a\u00a0b", false], ["a\u2003b", false],
  // The kernel counts bytes: "é" is two, "😀" four.
  ["é".repeat(7) + "a", true], ["é".repeat(8), false], ["😀".repeat(3) + "ab", true], ["😀".repeat(4), false],
];
for (const [s, ok] of ifnames) {
  test(`isValidIfname(${JSON.stringify(s)}) is ${ok}`, () => assert.equal(isValidIfname(s), ok));
}
