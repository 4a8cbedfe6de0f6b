// The lab runtime against Debian's reference plugins (bridge + host-local,
// then portmap): pods are created and removed the way libcni does it. Each
// plugin is wrapped by a script in the node's cni/bin (searched before
// /usr/lib/cni) that records what the runtime passed it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { labLayout, nodePaths, OUTSIDE_IP, podNs } from "../../src/lab/layout.ts";
import { REFERENCE_PLUGIN_DIR } from "../../src/lab/runtime.ts";
import { askEcho, inNetns, uniqueLabName, weft, weftOk, writeReferenceConflist } from "../../src/lab/testing.ts";
import { sleep } from "../../src/lib/sleep.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

interface Call {
  command: string;
  plugin: string;
  args: string;
  stdin: Record<string, unknown> & { prevResult?: { ips: { address: string }[] }; runtimeConfig?: unknown };
}

describe("lab runtime with the reference plugins", { skip }, () => {
  const name = uniqueLabName("rt");
  const lab = labLayout(name);
  const n1 = nodePaths(lab, "node1");
  const callLog = join(lab.dir, "plugin-calls.jsonl");
  const calls = (pod: string): Call[] =>
    readFileSync(callLog, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Call)
      .filter((c) => c.args.includes(`K8S_POD_NAME=${pod};`));
  const ips: Record<string, string> = {};

  before(async () => {
    await weftOk(["lab", "up", "--no-kubernetes", "--name", name, "--nodes", "2"]);
    writeReferenceConflist(lab, "node1", 1);
    for (const plugin of ["bridge", "portmap"]) {
      const wrapper = join(n1.cniBinDir, plugin);
      writeFileSync(
        wrapper,
        `#!/bin/sh\nin=$(cat)\nprintf '{"command":"%s","plugin":"${plugin}","args":"%s","stdin":%s}\\n' "$CNI_COMMAND" "$CNI_ARGS" "$in" >>${callLog}\nprintf '%s' "$in" | exec ${REFERENCE_PLUGIN_DIR}/${plugin}\n`,
      );
      chmodSync(wrapper, 0o755);
    }
  });
  after(() => weft(["lab", "down", "--name", name]));

  test("run creates two pods that reach each other", async () => {
    for (const [pod, extra] of [
      ["a", ["--namespace", "team", "--labels", "app=a,tier=web", "--", "sleep", "1000"]],
      ["b", ["--port", "8081:80", "--", process.execPath, join(import.meta.dirname, "../../src/lab/echo-source.ts"), "--port", "80"]],
    ] as const) {
      const out = await weftOk(["lab", "run", pod, "--name", name, "--node", "node1", ...extra]);
      const m = /^pod\/(\w+) created on node1 with IP (10\.244\.1\.\d+)\n$/.exec(out);
      assert.ok(m, out);
      ips[pod] = m[2]!;
    }
    assert.notEqual(ips.a, ips.b);
    await inNetns(podNs(lab, "a"), ["ping", "-c", "1", "-W", "2", ips.b!]);
    await weftOk(["lab", "exec", "b", "--name", name, "--", "ping", "-c", "1", "-W", "2", ips.a!]);
  });

  test("pods lists them with their IPs, as a table and as JSON", async () => {
    const table = await weftOk(["lab", "pods", "--name", name]);
    assert.match(table, /^NAME +NAMESPACE +NODE +IP +STATUS$/m);
    assert.match(table, new RegExp(`^a +team +node1 +${ips.a!.replaceAll(".", "\\.")} +Running$`, "m"));
    assert.match(table, new RegExp(`^b +default +node1 +${ips.b!.replaceAll(".", "\\.")} +Running$`, "m"));
    const json = JSON.parse(await weftOk(["lab", "pods", "--name", name, "-o", "json"]));
    assert.deepEqual(json[0], { name: "a", namespace: "team", node: "node1", ip: ips.a, status: "Running", labels: { app: "a", tier: "web" } });
  });

  test("ADD runs the chain in order with name, cniVersion, prevResult and capability args injected", () => {
    const add = calls("b").filter((c) => c.command === "ADD");
    assert.deepEqual(add.map((c) => c.plugin), ["bridge", "portmap"]);
    const [bridge, portmap] = add as [Call, Call];
    assert.equal(bridge.stdin.name, "reference");
    assert.equal(bridge.stdin.cniVersion, "1.0.0");
    assert.equal(bridge.stdin.prevResult, undefined);
    assert.equal(bridge.stdin.runtimeConfig, undefined, "bridge declares no capabilities");
    assert.equal(portmap.stdin.name, "reference");
    assert.equal(portmap.stdin.prevResult!.ips[0]!.address, `${ips.b}/24`);
    assert.deepEqual(portmap.stdin.runtimeConfig, { portMappings: [{ hostPort: 8081, containerPort: 80, protocol: "tcp" }] });
    assert.match(bridge.args, /^IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=b;K8S_POD_INFRA_CONTAINER_ID=[0-9a-f]{64}$/);
  });

  test("a port mapping forwards the node's port to the pod", async () => {
    let reply = "";
    for (let i = 0; i < 50 && reply === ""; i++) {
      reply = await askEcho(lab.outsideNs, "192.168.125.101", 8081).catch(() => "");
      if (reply === "") await sleep(100);
    }
    assert.equal(reply, OUTSIDE_IP);
  });

  test("rm runs DEL in reverse order with the cached result and frees the pod", async () => {
    const results = join(n1.cniCacheDir, "results");
    assert.equal(readdirSync(results).length, 2);
    assert.equal(await weftOk(["lab", "rm", "b", "--name", name]), "pod/b deleted\n");
    const del = calls("b").filter((c) => c.command === "DEL");
    assert.deepEqual(del.map((c) => c.plugin), ["portmap", "bridge"]);
    for (const c of del) assert.equal(c.stdin.prevResult!.ips[0]!.address, `${ips.b}/24`, `${c.plugin} got the cached result`);
    assert.deepEqual(del[0]!.stdin.runtimeConfig, { portMappings: [{ hostPort: 8081, containerPort: 80, protocol: "tcp" }] });
    assert.equal(readdirSync(results).length, 1, "b's cache entry is gone");
    assert.ok(!existsSync(join(n1.stateDir, "host-local", "reference", ips.b!)), "host-local released b's IP");
    assert.ok(existsSync(join(n1.stateDir, "host-local", "reference", ips.a!)));
    assert.ok(!existsSync(`/run/netns/${podNs(lab, "b")}`));
    assert.doesNotMatch(await weftOk(["lab", "pods", "--name", name]), /^b /m);
    assert.equal(await weftOk(["lab", "rm", "b", "--name", name]), "pod/b not found; nothing to delete\n");
  });

  test("a pod's command that ends shows as Completed or Error", async () => {
    await weftOk(["lab", "run", "ok", "--name", name, "--node", "node1", "--", "true"]);
    await weftOk(["lab", "run", "bad", "--name", name, "--node", "node1", "--", "sh", "-c", "exit 3"]);
    let table = "";
    for (let i = 0; i < 50; i++) {
      table = await weftOk(["lab", "pods", "--name", name]);
      if (/^ok .* Completed$/m.test(table) && /^bad .* Error$/m.test(table)) break;
      await sleep(100);
    }
    assert.match(table, /^ok .* Completed$/m);
    assert.match(table, /^bad .* Error$/m);
    await weftOk(["lab", "rm", "ok", "--name", name]);
    await weftOk(["lab", "rm", "bad", "--name", name]);
  });

  test("a plugin's CNI error is surfaced in one line and the pod is rolled back", async () => {
    const n2 = nodePaths(lab, "node2");
    writeFileSync(
      join(n2.cniConfDir, "00-broken.conflist"),
      JSON.stringify({ cniVersion: "1.0.0", name: "broken", plugins: [{ type: "bridge", ipam: { type: "host-local", ranges: [[{ subnet: "bogus" }]] } }] }),
    );
    const r = await weft(["lab", "run", "c", "--name", name, "--node", "node2", "--", "sleep", "100"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^weft: CNI plugin "bridge" failed on ADD \(CNI error \d+\): invalid CIDR address: bogus\n$/);
    assert.ok(!existsSync(`/run/netns/${podNs(lab, "c")}`));
    assert.doesNotMatch(await weftOk(["lab", "pods", "--name", name]), /^c /m);
  });

  test("run refuses a taken name and an unknown node", async () => {
    const taken = await weft(["lab", "run", "a", "--name", name, "--node", "node1", "--", "true"]);
    assert.match(taken.stderr, /^weft: pod a already exists in lab/);
    const node = await weft(["lab", "run", "z", "--name", name, "--node", "node7", "--", "true"]);
    assert.match(node.stderr, /^weft: lab .* has no node "node7"; its nodes are node1, node2\n$/);
  });
});
