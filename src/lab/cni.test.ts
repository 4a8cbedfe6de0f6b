import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WeftError } from "../lib/errors.ts";
import { addNetworkList, CniPluginError, delNetworkList, findPlugin, loadConfList, parseConfList, pluginStdin, readCache, versionAtLeast, type CniClient, type RuntimeConf } from "./cni.ts";

// Fake plugins are shell scripts that log their env and stdin; "echo"
// answers ADD with its prevResult plus one address, "fail" prints a CNI error
// object, "crash" writes only to stderr.
const ECHO = `#!/bin/sh
in=$(cat)
printf '%s %s %s\\n' "$CNI_COMMAND" "$(basename "$0")" "$in" >>"$LOG"
env | grep '^CNI_' | sort >"$LOG.env"
[ "$CNI_COMMAND" = ADD ] && printf '{"cniVersion":"1.0.0","ips":[{"address":"10.9.0.%s/24"}],"seen":%s}' "$N" "$in"
exit 0
`;
const FAIL = `#!/bin/sh
cat >/dev/null
printf '{"cniVersion":"1.0.0","code":11,"msg":"no free address","details":"10.9.0.0/30 is full"}'
exit 1
`;
const CRASH = `#!/bin/sh
echo "panic: something broke" >&2
exit 2
`;

describe("CNI client", () => {
  let dir: string;
  let client: CniClient;
  let log: string;
  const rt: RuntimeConf = {
    containerId: "c0ffee",
    netns: "/run/netns/x",
    ifName: "eth0",
    args: [["K8S_POD_NAME", "web"]],
    capabilityArgs: { portMappings: [{ hostPort: 1, containerPort: 2, protocol: "tcp" }], bandwidth: { rate: 1 } },
  };
  const lines = () => readFileSync(log, "utf8").trim().split("\n").map((l) => {
    const [command, plugin, ...json] = l.split(" ");
    return { command, plugin, stdin: JSON.parse(json.join(" ")) as Record<string, any> };
  });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "weft-cni-"));
    log = join(dir, "calls.log");
    for (const [d, plugins] of [["bin1", { first: ECHO, fail: FAIL }], ["bin2", { first: FAIL, second: ECHO, crash: CRASH }]] as const) {
      mkdirSync(join(dir, d));
      for (const [name, text] of Object.entries(plugins)) {
        writeFileSync(join(dir, d, name), text);
        chmodSync(join(dir, d, name), 0o755);
      }
    }
    client = {
      paths: [join(dir, "bin1"), join(dir, "bin2")],
      cacheDir: join(dir, "cache"),
      exec: (path, env, stdin) =>
        new Promise((resolve) => {
          const child = spawn(path, { env: { ...process.env, ...env, LOG: log, N: "7" } });
          let stdout = "";
          let stderr = "";
          child.stdout.on("data", (b) => (stdout += b));
          child.stderr.on("data", (b) => (stderr += b));
          child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
          // A plugin may exit before reading its stdin (CRASH does): EPIPE is not the result.
          child.stdin.on("error", () => {});
          child.stdin.end(stdin);
        }),
    };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const list = (cniVersion = "1.0.0", plugins: object[] = [{ type: "first", capabilities: { portMappings: true } }, { type: "second", mtu: 1400 }]) =>
    parseConfList(JSON.stringify({ cniVersion, name: "net1", plugins }), "/etc/cni/net.d/10-net1.conflist");

  test("ADD chains results and injects name, cniVersion, prevResult and declared capabilities", async () => {
    rmSync(log, { force: true });
    const result = await addNetworkList(client, list(), rt);
    const [a, b] = lines();
    assert.deepEqual([a!.command, a!.plugin, b!.command, b!.plugin], ["ADD", "first", "ADD", "second"]);
    assert.deepEqual(a!.stdin, { type: "first", capabilities: { portMappings: true }, name: "net1", cniVersion: "1.0.0", runtimeConfig: { portMappings: rt.capabilityArgs.portMappings } });
    assert.equal(b!.stdin.prevResult.ips[0].address, "10.9.0.7/24");
    assert.equal(b!.stdin.mtu, 1400);
    assert.equal(b!.stdin.runtimeConfig, undefined);
    assert.equal((result.seen as Record<string, unknown>).type, "second", "the last plugin's result is the list's result");
  });

  test("plugins get the CNI environment", () => {
    assert.deepEqual(readFileSync(`${log}.env`, "utf8").trim().split("\n"), [
      "CNI_ARGS=K8S_POD_NAME=web",
      "CNI_COMMAND=ADD",
      "CNI_CONTAINERID=c0ffee",
      "CNI_IFNAME=eth0",
      "CNI_NETNS=/run/netns/x",
      `CNI_PATH=${client.paths.join(":")}`,
    ]);
  });

  test("runtimeConfig holds only the capabilities a plugin declares as true", () => {
    const stdin = pluginStdin(list(), { type: "x", capabilities: { bandwidth: true, portMappings: false } }, undefined, rt);
    assert.deepEqual(JSON.parse(stdin).runtimeConfig, { bandwidth: { rate: 1 } });
  });

  test("ADD caches result, config and args the way libcni does; DEL runs in reverse with the cached result", async () => {
    const cached = readCache(client, "net1", rt)!;
    assert.equal(cached.list.plugins.length, 2);
    assert.deepEqual(cached.rt.args, rt.args);
    assert.equal((cached.result.ips as { address: string }[])[0]!.address, "10.9.0.7/24");
    const file = JSON.parse(readFileSync(join(dir, "cache/results/net1-c0ffee-eth0"), "utf8"));
    assert.equal(file.kind, "cniCacheV1");
    assert.equal(JSON.parse(Buffer.from(file.config, "base64").toString()).name, "net1");

    rmSync(log, { force: true });
    await delNetworkList(client, cached.list, cached.rt);
    const calls = lines();
    assert.deepEqual(calls.map((c) => `${c.command} ${c.plugin}`), ["DEL second", "DEL first"]);
    for (const c of calls) assert.deepEqual(c.stdin.prevResult, cached.result);
    assert.ok(!existsSync(join(dir, "cache/results/net1-c0ffee-eth0")));
    assert.equal(readCache(client, "net1", rt), null);
  });

  test("DEL before 0.4.0 passes no prevResult", async () => {
    const old = list("0.3.1");
    await addNetworkList(client, old, rt);
    rmSync(log, { force: true });
    await delNetworkList(client, old, rt);
    for (const c of lines()) assert.equal(c.stdin.prevResult, undefined);
  });

  test("a CNI error object is surfaced with its code, msg and details", async () => {
    const err = await addNetworkList(client, list("1.0.0", [{ type: "first" }, { type: "fail" }]), rt).catch((e: unknown) => e);
    assert.ok(err instanceof CniPluginError);
    assert.equal(err.cniCode, 11);
    assert.equal(err.msg, "no free address");
    assert.equal(err.details, "10.9.0.0/30 is full");
    assert.equal(err.message, 'CNI plugin "fail" failed on ADD (CNI error 11): no free address: 10.9.0.0/30 is full');
  });

  test("a plugin that prints no error object is reported with its stderr", async () => {
    await assert.rejects(addNetworkList(client, list("1.0.0", [{ type: "crash" }]), rt), {
      message: 'CNI plugin "crash" failed on ADD: panic: something broke',
    });
  });

  test("plugins are found in CNI_PATH order; a missing one is a clear error", () => {
    assert.equal(findPlugin("first", client.paths), join(dir, "bin1/first"));
    assert.equal(findPlugin("second", client.paths), join(dir, "bin2/second"));
    assert.throws(() => findPlugin("weft", client.paths), (e: WeftError) => /CNI plugin "weft" is not in .*bin1:.*bin2; install it with weft install-cni/.test(e.describe()));
  });

  test("the lexically first configuration file wins; a .conf is a one-plugin list", () => {
    const conf = join(dir, "net.d");
    mkdirSync(conf);
    assert.throws(() => loadConfList(conf), /no CNI network configuration in/);
    writeFileSync(join(conf, "20-b.conflist"), JSON.stringify({ cniVersion: "1.0.0", name: "b", plugins: [{ type: "x" }] }));
    writeFileSync(join(conf, "10-a.conf"), JSON.stringify({ cniVersion: "0.4.0", name: "a", type: "bridge" }));
    writeFileSync(join(conf, "05-notes.txt"), "ignored");
    const l = loadConfList(conf);
    assert.equal(l.name, "a");
    assert.deepEqual(l.plugins, [{ cniVersion: "0.4.0", name: "a", type: "bridge" }]);
    assert.deepEqual(JSON.parse(l.text).plugins, l.plugins, "cached as a list");
  });

  test("invalid configurations name the file and the problem", () => {
    for (const [text, message] of [
      ["{", /invalid CNI configuration f.conflist: /],
      [`{"cniVersion":"1.0.0","plugins":[{"type":"x"}]}`, /"name" is missing/],
      [`{"cniVersion":"1.0.0","name":"n","plugins":[]}`, /"plugins" must be a non-empty list/],
      [`{"cniVersion":"1.0.0","name":"n","plugins":[{}]}`, /plugin 0 has no "type"/],
    ] as const) {
      assert.throws(() => parseConfList(text, "f.conflist"), message);
    }
  });

  test("versionAtLeast", () => {
    assert.ok(versionAtLeast("0.4.0", "0.4.0"));
    assert.ok(versionAtLeast("1.0.0", "0.4.0"));
    assert.ok(!versionAtLeast("0.3.1", "0.4.0"));
  });
});
