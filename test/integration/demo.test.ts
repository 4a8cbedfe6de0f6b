// `npm run demo`'s command end to end, on a lab of its own name: the tour
// must pass its smoke test and trace a complete path.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { REAL_AGENT, uniqueLabName, weft } from "../../src/lab/testing.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;
const name = uniqueLabName("demo");
after(() => weft(["lab", "down", "--name", name]));

test("weft demo brings up 3 nodes, passes smoke, shows peers and a complete trace", { skip, timeout: 120_000 }, async () => {
  const r = await weft(["demo", "--name", name], REAL_AGENT);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /smoke passed: 14 passed/);
  assert.match(r.stdout, /^node3 +192\.168\.125\.103 +10\.244\.\d+\.0\/24 +vxlan +programmed$/m);
  assert.match(r.stdout, /path complete: 17 hops from pod client to pod web/);
  assert.match(r.stdout, new RegExp(`weft lab down --name ${name}`));
});
