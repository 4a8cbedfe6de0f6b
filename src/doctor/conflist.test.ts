import { test } from "node:test";
import assert from "node:assert/strict";
import { WeftError } from "../lib/errors.ts";
import { summarizeConflist } from "./conflist.ts";

test("reads the chain, the version and the weft entry's subnet file", () => {
  const text = JSON.stringify({ cniVersion: "1.0.0", plugins: [{ type: "weft", subnetFile: "/x/subnet.env" }, { type: "portmap" }] });
  assert.deepEqual(summarizeConflist(text, "f"), { cniVersion: "1.0.0", types: ["weft", "portmap"], subnetFile: "/x/subnet.env" });
});

test("a weft entry without subnetFile reads the plugin's default; no weft entry, none", () => {
  assert.equal(summarizeConflist('{"plugins":[{"type":"weft"}]}', "f").subnetFile, "/run/weft/subnet.env");
  assert.equal(summarizeConflist('{"plugins":[{"type":"bridge"}]}', "f").subnetFile, null);
});

for (const [text, message] of [
  ["{", /^f is not valid JSON/],
  ["{}", /^f has no "plugins" list/],
  ['{"plugins":[]}', /^f has no "plugins" list/],
] as const) {
  test(`rejects ${text}`, () => {
    assert.throws(() => summarizeConflist(text, "f"), (e: unknown) => e instanceof WeftError && e.code === "CONFLIST_INVALID" && message.test(e.message));
  });
}
