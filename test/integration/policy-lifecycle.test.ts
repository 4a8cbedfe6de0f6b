/**
 * The network policy controller over time, in namespaces
 * (policy-topology.ts): established flows when a policy starts denying
 * them (kept by default, cut in strict mode), how fast a change is
 * enforced, drift repair, and the metrics.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { PolicyLab, type LabPod } from "./policy-topology.ts";
import { runIn } from "../support/netns.ts";
import { until } from "../support/until.ts";
import { sleep } from "../../src/lib/sleep.ts";
import type { NetworkPolicy, Pod } from "../../src/policy/types.ts";

const denyServer: NetworkPolicy = { namespace: "x", name: "deny-server", podSelector: { matchLabels: { app: "server" } }, ingress: [], egress: [] };

async function world(lab: PolicyLab): Promise<{ client: LabPod; server: LabPod; pods: Pod[] }> {
  await lab.connect("host-gw");
  const client = lab.addPod("n1", "client");
  const server = lab.addPod("n1", "server");
  await lab.serve(server, "server", [80]);
  const pods: Pod[] = [
    { namespace: "x", name: "client", labels: { app: "client" }, ips: [client.ip], node: "n1", hostNetwork: false, ports: [] },
    { namespace: "x", name: "server", labels: { app: "server" }, ips: [server.ip], node: "n1", hostNetwork: false, ports: [] },
  ];
  lab.send({ op: "namespace", namespace: { name: "x", labels: {} } });
  for (const p of pods) lab.send({ op: "pod", pod: p });
  lab.send({ op: "synced" });
  await lab.sync();
  return { client, server, pods };
}

/** Holds a TCP and a UDP flow for 3 s (30 rounds of 100 ms) and makes `change` 1 s in. */
async function holdAcross(lab: PolicyLab, client: LabPod, server: LabPod, change: () => Promise<void>): Promise<{ tcp: boolean[]; udp: boolean[] }> {
  const held = ["tcp", "udp"].map((proto) => lab.hold(client, proto, server.ip, 80, 100, 30));
  await sleep(1000);
  await change();
  const [tcp, udp] = await Promise.all(held);
  return { tcp: tcp!, udp: udp! };
}

describe("network policy: established flows, latency, drift and metrics", { timeout: 120_000 }, () => {
  const labs: PolicyLab[] = [];
  after(async () => {
    for (const l of labs) await l.dispose();
  });

  test("default: flows established before a policy denies them continue; new connections are refused", async () => {
    const lab = new PolicyLab("keep");
    labs.push(lab);
    lab.start();
    const { client, server } = await world(lab);
    const held = await holdAcross(lab, client, server, async () => {
      lab.send({ op: "policy", policy: denyServer });
      await lab.sync();
    });
    assert.deepEqual(held.tcp.filter((x) => !x).length, 0, `TCP flow kept: ${held.tcp}`);
    assert.deepEqual(held.udp.filter((x) => !x).length, 0, `UDP flow kept: ${held.udp}`);
    const fresh = await lab.probe(client, 800, [`tcp:${server.ip}:80`, `udp:${server.ip}:80`, `sctp:${server.ip}:80`]);
    assert.deepEqual(Object.values(fresh), [false, false, false]);
    // The pod's own node (kubelet probes, hostNetwork pods) still gets through; another node does not.
    const node = (n: "n1" | "n2") => ({ netns: lab.nodeNs[n], ip: "", node: n }) as LabPod;
    assert.deepEqual(await lab.probe(node("n1"), 800, [`tcp:${server.ip}:80`]), { [`tcp:${server.ip}:80`]: true });
    assert.deepEqual(await lab.probe(node("n2"), 800, [`tcp:${server.ip}:80`]), { [`tcp:${server.ip}:80`]: false });
  });

  test("strict: the conntrack entries of newly denied flows are deleted, so those flows stop", async () => {
    const lab = new PolicyLab("strict");
    labs.push(lab);
    lab.start({ strict: true });
    const { client, server } = await world(lab);
    const held = await holdAcross(lab, client, server, async () => {
      lab.send({ op: "policy", policy: denyServer });
      await lab.sync();
    });
    for (const [proto, rounds] of Object.entries(held)) {
      assert.ok(rounds.slice(0, 8).every((x) => x), `${proto} answered before the policy: ${rounds}`);
      assert.ok(rounds.slice(-15).every((x) => !x), `${proto} cut after the policy: ${rounds}`);
    }
    const m = await lab.ask("n1", "metrics");
    assert.match(m.text as string, /weft_policy_conntrack_flows_deleted_total [1-9]/);
    // Flows the policies still allow are left alone: a policy allowing the client back lets a new flow through and keeps it.
    lab.send({ op: "policy", policy: { ...denyServer, ingress: [{ peers: [{ podSelector: { matchLabels: { app: "client" } } }] }] } });
    await lab.sync();
    const again = await holdAcross(lab, client, server, async () => {
      lab.send({ op: "namespace", namespace: { name: "x", labels: { touched: "yes" } } });
      await lab.sync();
    });
    assert.ok(again.tcp.every((x) => x) && again.udp.every((x) => x), `allowed flows kept in strict mode: ${JSON.stringify(again)}`);
  });

  test("a new pod selected by a policy, and a relabelled one, are enforced within 1 s of the event; drift is repaired; metrics", async () => {
    const lab = new PolicyLab("late");
    labs.push(lab);
    lab.start();
    const { client, server, pods } = await world(lab);
    // Only pods labelled app=server are isolated; the server starts unlabelled.
    lab.send({ op: "pod", pod: { ...pods[1]!, labels: {} } });
    lab.send({ op: "policy", policy: denyServer });
    await lab.sync();
    assert.deepEqual(Object.values(await lab.probe(client, 1000, [`tcp:${server.ip}:80`])), [true]);
    const t0 = Date.now();
    lab.send({ op: "pod", pod: pods[1]! });
    await until("the relabelled server to be isolated", async () => Object.values(await lab.probe(client, 150, [`tcp:${server.ip}:80`]))[0] === false, 5000, 0);
    const relabelMs = Date.now() - t0;
    assert.ok(relabelMs < 1000, `relabel enforced in ${relabelMs} ms`);

    const late = lab.addPod("n1", "late");
    await lab.serve(late, "late", [80]);
    const t1 = Date.now();
    lab.send({ op: "pod", pod: { namespace: "x", name: "late", labels: { app: "server" }, ips: [late.ip], node: "n1", hostNetwork: false, ports: [] } });
    await until("the new pod to be isolated", async () => Object.values(await lab.probe(client, 150, [`tcp:${late.ip}:80`]))[0] === false, 5000, 0);
    const newPodMs = Date.now() - t1;
    assert.ok(newPodMs < 1000, `new pod isolated in ${newPodMs} ms`);

    const dropsOf = async () => Number(/weft_policy_dropped_packets_total\{direction="ingress"\} (\d+)/.exec((await lab.ask("n1", "metrics")).text as string)?.[1]);
    const before = await dropsOf();
    assert.ok(before >= 2, `the blocked probes were counted: ${before}`);

    // Someone else deletes the table, then flushes the forward chain: both repaired at once.
    for (const vandal of [["delete", "table", "inet", "weft-policy"], ["flush", "chain", "inet", "weft-policy", "forward"]]) {
      assert.equal(runIn(lab.nodeNs.n1, ["nft", ...vandal]).status, 0);
      const t = Date.now();
      await until(`the table to be repaired after nft ${vandal.join(" ")}`, () => /goto|vmap @ingress-pods/.test(runIn(lab.nodeNs.n1, ["nft", "list", "chain", "inet", "weft-policy", "forward"]).stdout), 5000, 50);
      assert.ok(Date.now() - t < 3000);
      await until("the server isolated again", async () => Object.values(await lab.probe(client, 300, [`tcp:${server.ip}:80`]))[0] === false, 5000, 0);
    }

    // A burst of 300 events becomes a few syncs (the sync runner coalesces), and the last state wins.
    const syncs = async () => Number(/weft_policy_sync_duration_seconds_count (\d+)/.exec((await lab.ask("n1", "metrics")).text as string)?.[1]);
    const before300 = await syncs();
    for (let i = 0; i < 300; i++) lab.send({ op: "pod", pod: { ...pods[1]!, labels: { app: i === 299 ? "server" : "other", round: String(i) } } });
    await lab.sync();
    const burst = (await syncs()) - before300;
    assert.ok(burst >= 1 && burst <= 10, `${burst} syncs for a burst of 300 events`);
    assert.deepEqual(Object.values(await lab.probe(client, 500, [`tcp:${server.ip}:80`])), [false]);

    const m = (await lab.ask("n1", "metrics")).text as string;
    assert.match(m, /weft_policy_sync_duration_seconds_count [1-9]/);
    assert.match(m, /weft_policy_syncs_total\{kind="full"\} [1-9]/);
    assert.match(m, /weft_policy_syncs_total\{kind="partial"\} [1-9]/);
    // The table deleted by someone else took its counts since the last read along; the full sync in place after the flush does not.
    const after = await dropsOf();
    assert.ok(after >= before + 1, `drops counted across full syncs: ${before} then ${after}`);
    assert.match(m, /weft_policy_isolated_pods\{direction="ingress"\} 2/);
    const status = (await lab.ask("n1", "status")).status as { pods: { name: string; ingress: { isolated: boolean; policies: string[] } }[] };
    assert.deepEqual(status.pods.map((p) => [p.name, p.ingress.isolated, p.ingress.policies]), [["client", false, []], ["late", true, ["x/deny-server"]], ["server", true, ["x/deny-server"]]]);
  });
});
