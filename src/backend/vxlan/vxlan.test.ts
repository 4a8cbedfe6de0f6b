import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeRunner, type FakeCall } from "../../kernel/fake-runner.ts";
import type { Peer } from "../types.ts";
import { VXLAN_DEVICE_MISSING, VxlanBackend } from "./vxlan.ts";

const peer = (k: number): Peer => ({ node: `node${k}`, subnet: `10.244.${k}.0/24`, publicIp: `192.168.125.${100 + k}`, backendData: { vtepMac: `0a:58:0a:f4:0${k}:00` } });
const local = { subnet: "10.244.1.0/24", publicIp: "192.168.125.101", underlayIface: "eth0", underlayMtu: 1500 };

/**
 * A backend on a FakeRunner: the device reads as absent until set up, the
 * three tables read as empty, every batch applies unless `refuse` is set
 * (then the device is gone: batches and reads fail as iproute2 does).
 */
function make() {
  const k = { refuse: false };
  const runner = new FakeRunner((call: FakeCall) => {
    const gone = { code: 1, stderr: 'Cannot find device "weft.1"\n' };
    if (k.refuse) return gone;
    if (call.argv.includes("-d")) return gone; // setup's read: no device yet, so it is made
    if (call.argv.includes("-j")) return { stdout: "[]" };
    return {};
  });
  const backend = new VxlanBackend({ runner });
  /** The commands since the last call, as `tool verb…` or `tool -batch: line | line`. */
  const since = () => runner.calls.splice(0).map((c) => c.input ? `${c.argv[0]} -batch: ${c.input.trim().split("\n").join(" | ")}` : c.argv.join(" "));
  return { backend, runner, since, k };
}

test("a full reconcile reads the device; a changes one writes only the added or deleted peer, reading nothing", async () => {
  const { backend, since } = make();
  await backend.setup(local);
  since();
  const full = await backend.reconcile([peer(2), peer(3)]);
  assert.deepEqual(full.changed, ["node2", "node3"]);
  const calls = since();
  assert.deepEqual(calls.filter((c) => c.includes(" show ")).length, 3, calls.join("\n"));

  const added = await backend.reconcile([peer(2), peer(3), peer(4)], "changes");
  assert.deepEqual([added.changed, added.removed, added.problems], [["node4"], [], []]);
  assert.deepEqual(since(), [
    "bridge -batch: fdb replace 0a:58:0a:f4:04:00 dev weft.1 dst 192.168.125.104 self permanent",
    "ip -batch: route replace 10.244.4.0/24 via 10.244.4.0 dev weft.1 onlink | neigh replace 10.244.4.0 lladdr 0a:58:0a:f4:04:00 dev weft.1 nud permanent",
  ]);

  const deleted = await backend.reconcile([peer(2), peer(4)], "changes");
  assert.deepEqual([deleted.changed, deleted.removed], [[], ["route 10.244.3.0/24", "neigh 10.244.3.0", "fdb 0a:58:0a:f4:03:00 dst 192.168.125.103"]]);
  assert.deepEqual(since(), [
    "bridge -batch: fdb del 0a:58:0a:f4:03:00 dev weft.1 dst 192.168.125.103 self",
    "ip -batch: route del 10.244.3.0/24 dev weft.1 | neigh del 10.244.3.0 dev weft.1",
  ]);

  const same = await backend.reconcile([peer(2), peer(4)], "changes");
  assert.deepEqual([same.changed, same.removed, since()], [[], [], []], "nothing changed: no process at all");
});

test("a changes reconcile with nothing to go by (first, or after setup) reads the device like a full one", async () => {
  const { backend, since } = make();
  await backend.setup(local);
  since();
  await backend.reconcile([peer(2)], "changes");
  assert.equal(since().filter((c) => c.includes(" show ")).length, 3);
  await backend.reconcile([peer(2)], "changes");
  assert.deepEqual(since(), []);
  await backend.setup(local);
  since();
  await backend.reconcile([peer(2)], "changes");
  assert.equal(since().filter((c) => c.includes(" show ")).length, 3, "setup may have made the device anew: read it");
});

test("a refused changes reconcile falls back to reading the device, which names the missing device", async () => {
  const { backend, since, k } = make();
  await backend.setup(local);
  await backend.reconcile([peer(2)]);
  since();
  k.refuse = true;
  await assert.rejects(backend.reconcile([peer(2), peer(3)], "changes"), { code: VXLAN_DEVICE_MISSING });
  assert.ok(since().some((c) => c.includes(" show ")), "it read the device after the batch was refused");
  k.refuse = false;
  await backend.reconcile([peer(2), peer(3)], "changes");
  assert.equal(since().filter((c) => c.includes(" show ")).length, 3, "after a failure, the next reconcile reads again");
});
