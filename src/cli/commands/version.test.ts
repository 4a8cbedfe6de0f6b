import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import pkg from "../../../package.json" with { type: "json" };
import { ROOT } from "../../lib/root.ts";
import { describeCheckout } from "../../lib/version.ts";

const weft = (...args: string[]) => spawnSync(join(ROOT, "bin/weft"), args, { encoding: "utf8" });

test("weft version and weft --version name the version, the checkout's commit and Node.js", () => {
  const commit = describeCheckout(ROOT);
  assert.match(commit, /^[0-9a-f]{12}(-dirty)?$/);
  for (const args of [["version"], ["--version"]]) {
    const r = weft(...args);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `weft ${pkg.version} (commit ${commit}, Node.js ${process.versions.node})\n`);
  }
  assert.deepEqual(JSON.parse(weft("version", "-o", "json").stdout), { version: pkg.version, commit, node: process.versions.node });
});

test("weft version refuses an unknown format in one line", () => {
  const r = weft("version", "-o", "yaml");
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'weft: version: unknown output format "yaml"; use -o table or -o json\n');
});
