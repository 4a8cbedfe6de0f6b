// `npm run demo`'s command end to end, on a lab of its own name: the
// Kubernetes tour must show Ready nodes, pods pinging and connecting across
// nodes with no NAT, the Service by name through the cluster DNS, pass its
// smoke test and trace a complete path.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { REAL_AGENT, uniqueLabName, weft } from "../../src/lab/testing.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;
const name = uniqueLabName("demo");
after(() => weft(["lab", "down", "--name", name]));

test("weft demo brings up a 3-node cluster, replays the guides, passes smoke, shows peers and a complete trace", { skip, timeout: 300_000 }, async () => {
  const r = await weft(["demo", "--name", name], REAL_AGENT);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal((r.stdout.match(/^node\d +Ready +/gm) ?? []).length, 3, "kubectl get nodes shows 3 Ready nodes");
  assert.match(r.stdout, /2 packets transmitted, 2 packets received/);
  const client = /^client +1\/1 +Running +\d+ +\S+ +(10\.244\.\d+\.\d+) /m.exec(r.stdout)?.[1];
  assert.ok(client, "the client pod has a pod IP");
  assert.match(r.stdout, new RegExp(`^pod=web-\\S+ client=${client.replaceAll(".", "\\.")}:\\d+$`, "m"), "the server saw the client's own pod IP");
  assert.match(r.stdout, /^kube-dns\.kube-system\.svc\.cluster\.local\.\s+5\s+IN\s+A\s+10\.96\.0\.10$/m);
  assert.match(r.stdout, /smoke passed: \d+ passed/);
  assert.match(r.stdout, /^node3 +192\.168\.125\.103 +10\.244\.\d+\.0\/24 +vxlan +programmed$/m);
  assert.match(r.stdout, /path complete: \d+ hops from pod client to pod web/);
  assert.match(r.stdout, new RegExp(`weft lab down --name ${name}`));
});
