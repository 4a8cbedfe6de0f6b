import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeRunner } from "../kernel/fake-runner.ts";
import { PolicyController } from "./controller.ts";
import { pod, policy } from "./testing.ts";

/** A controller whose nft transactions a FakeRunner takes (it applies nothing; the plan is what podAdded reads). */
function controller() {
  const runner = new FakeRunner();
  const c = new PolicyController({ nodeName: "n1", runner, log: () => {}, bridgeNetfilter: false, watchDrift: false, minSyncIntervalMs: 1 });
  return { c, runner };
}

test("podAdded waits for an agent still listing, programs the reported address, and says when the API has no such pod", async () => {
  const { c, runner } = controller();
  c.upsertNamespace({ name: "x", labels: {} });
  c.upsertPolicy(policy("x", "deny"));
  c.upsertPod(pod("x", "a", "10.244.1.9", { ips: [] }));
  const pending = c.podAdded("x", "a", "10.244.1.9");
  c.markPodsSynced();
  c.markNamespacesSynced();
  c.markPoliciesSynced();
  assert.deepEqual(await pending, { programmed: true, isolated: { ingress: true, egress: false } });
  assert.ok(runner.calls.some((call) => call.input?.includes("10.244.1.9 : jump in-10.244.1.9")), "the transaction has the reported address");
  assert.equal(c.status().pods[0]?.ips[0], "10.244.1.9");

  const t0 = Date.now();
  const ghost = await c.podAdded("x", "ghost", "10.244.1.10", 100);
  assert.deepEqual([ghost.programmed, ghost.known], [false, false]);
  assert.ok(Date.now() - t0 >= 90);
  // A pod that appears while ADD waits for it.
  const late = c.podAdded("x", "late", "10.244.1.11");
  setTimeout(() => c.upsertPod(pod("x", "late", "10.244.1.11", { ips: [] })), 20);
  assert.equal((await late).programmed, true);
  await c.stop();
});

test("podAdded answers at once for a pod no policy selects; the sync that follows adds its address to the peers of policies naming it", async (t) => {
  const { c, runner } = controller();
  t.after(() => c.stop());
  c.upsertNamespace({ name: "x", labels: {} });
  c.upsertNamespace({ name: "y", labels: {} });
  // x/a is isolated and allows pods of y: y/b is a peer, selected by nothing.
  c.upsertPolicy(policy("x", "from-y", { podSelector: { matchLabels: { pod: "a" } }, ingress: [{ peers: [{ namespaceSelector: {}, podSelector: { matchLabels: { pod: "b" } } }] }] }));
  c.upsertPod(pod("x", "a", "10.244.1.9"));
  c.upsertPod(pod("y", "b", "10.244.1.20", { ips: [] }));
  c.markPodsSynced();
  c.markNamespacesSynced();
  c.markPoliciesSynced();
  await c.syncNow();
  const before = runner.calls.length;
  const answer = await c.podAdded("y", "b", "10.244.1.20");
  assert.deepEqual(answer, { programmed: true, isolated: { ingress: false, egress: false } });
  assert.ok(!runner.calls.slice(before).some((call) => call.input?.includes("10.244.1.20")), "answered before any transaction with the address");
  await c.syncNow();
  assert.ok(runner.calls.slice(before).some((call) => call.input?.includes("10.244.1.20")), "the following sync puts it in x/a's peers");
  // A pod a policy selects still waits for the table.
  c.upsertPod(pod("x", "a2", "10.244.1.21", { labels: { pod: "a" }, ips: [] }));
  const isolated = await c.podAdded("x", "a2", "10.244.1.21");
  assert.deepEqual(isolated, { programmed: true, isolated: { ingress: true, egress: false } });
  assert.ok(runner.calls.some((call) => call.input?.includes("10.244.1.21 : jump in-10.244.1.21")));
});

test("podAdded on an agent that never finishes listing says it has not synced, after the wait", async () => {
  const { c } = controller();
  const a = await c.podAdded("x", "a", "10.244.1.9", 50);
  assert.equal(a.programmed, false);
  assert.match(a.reason!, /has not synced yet/);
  await c.stop();
});

test("podAdded asks the API server for a pod its informer has not delivered yet, and programs it", async () => {
  const { c, runner } = controller();
  c.upsertNamespace({ name: "x", labels: {} });
  c.upsertPolicy(policy("x", "deny"));
  c.markPodsSynced();
  c.markNamespacesSynced();
  c.markPoliciesSynced();
  const asked: string[] = [];
  const answer = await c.podAdded("x", "early", "10.244.1.12", 1000, async () => {
    asked.push("x/early");
    return pod("x", "early", "10.244.1.12", { ips: [] });
  });
  assert.deepEqual(asked, ["x/early"]);
  assert.deepEqual(answer, { programmed: true, isolated: { ingress: true, egress: false } });
  assert.ok(runner.calls.some((call) => call.input?.includes("10.244.1.12 : jump in-10.244.1.12")));
  // What the node queued for the address before it was the pod's is dropped, after the table covers it.
  const flush = runner.calls.findIndex((call) => call.argv.join(" ") === "ip neigh flush to 10.244.1.12");
  const table = runner.calls.findIndex((call) => call.input?.includes("10.244.1.12 : jump in-10.244.1.12"));
  assert.ok(flush > table && table >= 0, "neighbour entry flushed after the table has the pod");
  // A pod no policy isolates: nothing to flush, no process spawned at ADD.
  c.upsertNamespace({ name: "y", labels: {} });
  const open = await c.podAdded("y", "free", "10.244.1.14", 1000, async () => pod("y", "free", "10.244.1.14", { ips: [] }));
  assert.deepEqual(open, { programmed: true, isolated: { ingress: false, egress: false } });
  assert.ok(!runner.calls.some((call) => call.argv.join(" ") === "ip neigh flush to 10.244.1.14"));
  // Neither the informer nor the API server has it: unknown, as before.
  const ghost = await c.podAdded("x", "ghost", "10.244.1.13", 1000, async () => undefined);
  assert.deepEqual([ghost.programmed, ghost.known], [false, false]);
  assert.match(ghost.reason!, /nor to the API server/);
  await c.stop();
});
