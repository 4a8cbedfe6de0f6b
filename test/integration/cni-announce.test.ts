/**
 * ADD tells the node's agent a Kubernetes pod's address (announce.ts): the
 * real plugin against the agent's real API server on agent.sock beside the
 * subnet file, answered by a test policy source. The agent hears the
 * address before it exists in the pod; ADD goes on when nobody listens or
 * policy is off, and fails with 11 (undoing everything) when the agent
 * cannot program the pod or does not answer within the bound.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { startApi, type AgentApi, type AgentApiSource } from "../../src/agent/api.ts";
import type { AgentStatus } from "../../src/agent/status.ts";
import type { PodAddedAnswer } from "../../src/policy/controller.ts";
import { ANNOUNCE_TIMEOUT_MS } from "../../src/cni/announce.ts";
import { cniEnv, PluginNode, runPluginAsync, type PluginRun } from "../support/cni.ts";
import { storedAllocations } from "../support/ipam-store.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

describe("ADD announces a Kubernetes pod's address to the node's agent", { skip }, () => {
  const fx = new PluginNode("wan");
  const { ns, files } = fx;
  const socket = join(files.dir, "agent.sock");
  let api: AgentApi | undefined;
  let n = 0;
  let pod = "";
  const heard: { namespace: string; name: string; ip: string; addressInPod: boolean }[] = [];

  before(() => {
    pod = ns.add("pod");
  });
  after(async () => {
    await api?.close();
  });

  /** Serves the agent API with `answer` for POST /policy/pods (undefined: network policy off); with `look`, records what it heard and whether the pod had the address then. */
  async function agent(answer: ((pod: { ip: string }) => Promise<PodAddedAnswer>) | undefined, look = true): Promise<void> {
    await api?.close();
    const source: AgentApiSource = {
      status: () => ({ node: "n1" }) as AgentStatus,
      connections: async () => [],
      policyPodAdded: answer && ((p) => {
        if (look) {
          const inPod = spawnSync("ip", ["-n", pod, "-4", "-o", "addr"], { encoding: "utf8" }).stdout;
          heard.push({ ...p, addressInPod: inPod.includes(p.ip) });
        }
        return answer(p);
      }),
    };
    api = await startApi(source, { socketPath: socket });
  }

  /** One ADD of a fresh attachment (then its DEL when it succeeded), timed. */
  async function add(args = "K8S_POD_NAMESPACE=x;K8S_POD_NAME=a"): Promise<{ run: PluginRun; ms: number; id: string }> {
    const id = `an${++n}`;
    const env = { ...cniEnv("ADD", id, `/run/netns/${pod}`), CNI_ARGS: args };
    const t0 = performance.now();
    const run = await runPluginAsync(fx.node, env, JSON.stringify(files.config("1.0.0")));
    const ms = performance.now() - t0;
    if (run.status === 0) await runPluginAsync(fx.node, { ...env, CNI_COMMAND: "DEL" }, JSON.stringify(files.config("1.0.0")));
    return { run, ms, id };
  }
  const ipOf = (r: PluginRun) => ((r.json?.ips as { address: string }[])[0]!.address).split("/")[0]!;

  test("the agent hears namespace, name and address before the address exists in the pod, and ADD returns after its answer", async () => {
    heard.length = 0;
    await agent(async () => {
      await new Promise((r) => setTimeout(r, 150));
      return { programmed: true, isolated: { ingress: true, egress: true } };
    });
    const { run, ms } = await add();
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.deepEqual(heard, [{ namespace: "x", name: "a", ip: ipOf(run), addressInPod: false }]);
    assert.ok(ms >= 150, `ADD returned after ${ms} ms, before the agent answered`);
  });

  test("a pod without K8S_POD_NAME, an agent without network policy, and a pod the API does not have: ADD goes on", async () => {
    heard.length = 0;
    await agent(async () => ({ programmed: false, known: false, reason: "not known" }));
    assert.equal((await add("")).run.status, 0);
    assert.equal(heard.length, 0);
    assert.equal((await add()).run.status, 0);
    assert.equal(heard.length, 1);
    await agent(undefined);
    const off = await add();
    assert.equal(off.run.status, 0, off.run.stdout);
  });

  test("nobody listening on agent.sock: ADD goes on at once (fail-open)", async () => {
    await api?.close();
    api = undefined;
    const { run, ms } = await add();
    assert.equal(run.status, 0, run.stdout);
    assert.ok(ms < 1000, `${ms} ms`);
  });

  test("an agent that cannot program the pod, or does not answer in time: error 11, nothing left behind (fail-closed)", async () => {
    await agent(async () => ({ programmed: false, reason: "network policy has not synced yet" }));
    const refused = await add();
    assert.equal(refused.run.status, 1);
    assert.equal(refused.run.json?.code, 11);
    assert.match(String(refused.run.json?.msg), /has not programmed pod x\/a into its network policy: network policy has not synced yet/);

    await agent(() => new Promise(() => {}));
    const hung = await add();
    assert.equal(hung.run.json?.code, 11, hung.run.stdout);
    assert.match(String(hung.run.json?.msg), new RegExp(`did not program pod x/a \\(10\\.244\\.1\\.\\d+\\) into its network policy within ${ANNOUNCE_TIMEOUT_MS} ms`));
    assert.ok(hung.ms >= ANNOUNCE_TIMEOUT_MS && hung.ms < ANNOUNCE_TIMEOUT_MS + 3000, `${hung.ms} ms`);

    assert.deepEqual(storedAllocations(files.dataDir), []);
    const links = spawnSync("ip", ["-n", fx.node, "-o", "link"], { encoding: "utf8" }).stdout;
    assert.doesNotMatch(links, /veth/, links);
    const inPod = spawnSync("ip", ["-n", pod, "-o", "link"], { encoding: "utf8" }).stdout;
    assert.doesNotMatch(inPod, /eth0/, inPod);
  });
  test("what the announcement costs an ADD: an agent that answers at once against none listening (median of 15, printed)", async () => {
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
    await api?.close();
    api = undefined;
    const none: number[] = [];
    for (let i = 0; i < 15; i++) none.push((await add()).ms);
    await agent(async () => ({ programmed: true, isolated: { ingress: false, egress: false } }), false);
    const answered: number[] = [];
    for (let i = 0; i < 15; i++) {
      const r = await add();
      assert.equal(r.run.status, 0, r.run.stdout);
      answered.push(r.ms);
    }
    process.stderr.write(`cni-announce: ADD through ip netns exec, median of 15: no agent ${median(none).toFixed(1)} ms, agent answering at once ${median(answered).toFixed(1)} ms\n`);
  });
});
