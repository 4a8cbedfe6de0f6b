// The absolute rule: a lab never changes the host's own network namespace.
// Its links, addresses, routes, nftables ruleset and forwarding sysctls are
// the same before, during (nodes up, pods with bridge and portmap, which set
// ip_forward and add NAT rules wherever they run) and after a lab.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { labLayout } from "../../src/lab/layout.ts";
import { hostSnapshot, uniqueLabName, weft, weftOk, writeReferenceConflist } from "../../src/lab/testing.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

describe("lab and the host namespace", { skip }, () => {
  const name = uniqueLabName("host");
  after(() => weft(["lab", "down", "--name", name]));

  test("the host namespace is the same before, during and after a lab", async () => {
    const before = await hostSnapshot();
    await weftOk(["lab", "up", "--no-kubernetes", "--name", name, "--nodes", "2"]);
    writeReferenceConflist(labLayout(name), "node1", 1);
    await weftOk(["lab", "run", "web", "--name", name, "--node", "node1", "--port", "8082:80", "--", "sleep", "100"]);
    await weftOk(["lab", "run", "db", "--name", name, "--node", "node1", "--", "sleep", "100"]);
    assert.match(await weftOk(["lab", "exec", "node1", "--name", name, "--", "cat", "/proc/sys/net/ipv4/ip_forward"]), /^1$/m, "the bridge plugin enabled forwarding in the node");
    assert.deepEqual(await hostSnapshot(), before, "during the lab");
    await weftOk(["lab", "rm", "db", "--name", name]);
    await weftOk(["lab", "down", "--name", name]);
    assert.deepEqual(await hostSnapshot(), before, "after the lab");
  });
});
