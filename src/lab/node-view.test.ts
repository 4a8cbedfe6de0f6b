import { test } from "node:test";
import assert from "node:assert/strict";
import { labLayout, nodePaths } from "./layout.ts";
import { hostPathOf } from "./node-view.ts";

test("a path a node's plugins name is found in that node's directories", () => {
  const p = nodePaths(labLayout("blue"), "node2");
  assert.equal(hostPathOf(p, "/run/weft/subnet.env"), "/run/weft/lab/blue/node2/run/subnet.env");
  assert.equal(hostPathOf(p, "/run/weft"), p.runDir);
  assert.equal(hostPathOf(p, "/var/lib/weft/ipam"), `${p.stateDir}/ipam`);
  // Only whole path components: /run/weftx is not under /run/weft.
  assert.equal(hostPathOf(p, "/run/weftx/subnet.env"), "/run/weftx/subnet.env");
  assert.equal(hostPathOf(p, "/etc/cni/net.d/10-weft.conflist"), "/etc/cni/net.d/10-weft.conflist");
});
