/**
 * Bad input: every case answers a CNI error object with the spec's code on
 * stdout, exits non-zero, and changes nothing (no link, no allocation).
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cniEnv, PLUGIN, PluginFiles, PluginNode, runPlugin } from "../support/cni.ts";
import { storedAllocations } from "../support/ipam-store.ts";
import { ipIn } from "../support/netns.ts";

describe("CNI errors", () => {
  const fx = new PluginNode("wce");
  const { ns, files } = fx;
  let pod = "";
  let netns = "";
  before(() => {
    pod = ns.add("pod");
    netns = `/run/netns/${pod}`;
  });

  const good = () => JSON.stringify(files.config("1.0.0"));
  const malformedSubnet = join(files.dir, "bad-subnet.env");
  const cases: Array<{ name: string; code: number; msg: RegExp; env?: () => Record<string, string>; stdin?: () => string }> = [
    { name: "malformed JSON", code: 6, msg: /not valid JSON/, stdin: () => "{not json" },
    { name: "a JSON array", code: 6, msg: /must be a JSON object/, stdin: () => "[]" },
    { name: "unsupported cniVersion", code: 1, msg: /CNI version 0\.2\.0 is not supported; weft supports 0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0/, stdin: () => JSON.stringify(files.config("0.2.0")) },
    { name: "no cniVersion", code: 1, msg: /no cniVersion/, stdin: () => JSON.stringify({ name: "weft", type: "weft" }) },
    { name: "unknown field", code: 2, msg: /unsupported field in network configuration: colour="blue"/, stdin: () => JSON.stringify(files.config("1.0.0", { colour: "blue" })) },
    { name: "an ipam section", code: 2, msg: /ipam=.*weft allocates pod addresses itself/, stdin: () => JSON.stringify(files.config("1.0.0", { ipam: { type: "host-local" } })) },
    { name: "invalid bridge name", code: 7, msg: /bridge="this-name-is-too-long" is not a valid interface name/, stdin: () => JSON.stringify(files.config("1.0.0", { bridge: "this-name-is-too-long" })) },
    { name: "invalid mtu", code: 7, msg: /mtu=70000 must be an integer from 576 to 65535/, stdin: () => JSON.stringify(files.config("1.0.0", { mtu: 70000 })) },
    { name: "relative dataDir", code: 7, msg: /dataDir="ipam" must be an absolute path/, stdin: () => JSON.stringify(files.config("1.0.0", { dataDir: "ipam" })) },
    { name: "invalid network name", code: 7, msg: /name="-x" must start with a letter or digit/, stdin: () => JSON.stringify(files.config("1.0.0", { name: "-x" })) },
    { name: "invalid dns nameserver", code: 7, msg: /dns\.nameservers\[0\]="ten" is not an IPv4 or IPv6 address/, stdin: () => JSON.stringify(files.config("1.0.0", { dns: { nameservers: ["ten"] } })) },
    { name: "hairpinMode not boolean", code: 7, msg: /hairpinMode="yes" must be true or false/, stdin: () => JSON.stringify(files.config("1.0.0", { hairpinMode: "yes" })) },
    { name: "malformed subnet file", code: 7, msg: /malformed subnet file .*bad-subnet\.env: WEFT_MTU="big" is not valid/, stdin: () => JSON.stringify(files.config("1.0.0", { subnetFile: malformedSubnet })) },
    { name: "missing subnet file", code: 11, msg: /subnet file .* does not exist: the weft agent has not leased a subnet/, stdin: () => JSON.stringify(files.config("1.0.0", { subnetFile: join(files.dir, "none.env") })) },
    { name: "no CNI_COMMAND", code: 4, msg: /CNI_COMMAND is not set/, env: () => ({}) },
    { name: "unknown CNI_COMMAND", code: 4, msg: /CNI_COMMAND "FROB" is not a CNI verb/, env: () => ({ ...cniEnv("ADD", "e1", netns), CNI_COMMAND: "FROB" }) },
    { name: "no CNI_CONTAINERID", code: 4, msg: /CNI_CONTAINERID is required for ADD/, env: () => ({ ...cniEnv("ADD", "", netns) }) },
    { name: "invalid CNI_CONTAINERID", code: 4, msg: /CNI_CONTAINERID "\.bad" is invalid/, env: () => cniEnv("ADD", ".bad", netns) },
    { name: "overlong CNI_CONTAINERID", code: 4, msg: /CNI_CONTAINERID is 448 characters long; weft's IPAM store holds at most 447/, env: () => cniEnv("ADD", "c".repeat(448), netns) },
    { name: "no CNI_NETNS", code: 4, msg: /CNI_NETNS is required for ADD/, env: () => cniEnv("ADD", "e1", "") },
    { name: "relative CNI_NETNS", code: 4, msg: /CNI_NETNS "netns\/x" must be an absolute path/, env: () => cniEnv("ADD", "e1", "netns/x") },
    { name: "missing netns", code: 4, msg: /CNI_NETNS \/run\/netns\/no-such-ns cannot be opened: ENOENT/, env: () => cniEnv("ADD", "e1", "/run/netns/no-such-ns") },
    { name: "invalid CNI_IFNAME", code: 4, msg: /CNI_IFNAME "a\/b" is not a valid interface name/, env: () => cniEnv("ADD", "e1", netns, "a/b") },
    { name: "malformed CNI_ARGS", code: 4, msg: /CNI_ARGS "K8S_POD_NAME" is malformed/, env: () => ({ ...cniEnv("ADD", "e1", netns), CNI_ARGS: "K8S_POD_NAME" }) },
  ];

  for (const c of cases) {
    test(`${c.name} → code ${c.code}, nothing changed`, () => {
      writeFileSync(malformedSubnet, "WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.1.1/24\nWEFT_MTU=big\nWEFT_IPMASQ=true\n");
      const linksBefore = ipIn(fx.node, "-o", "link").split("\n").length;
      const r = runPlugin(fx.node, c.env ? c.env() : cniEnv("ADD", "e1", netns), c.stdin ? c.stdin() : good());
      assert.notEqual(r.status, 0);
      assert.equal(r.json?.code, c.code, r.stdout);
      assert.match(String(r.json?.msg), c.msg);
      assert.equal(typeof r.json?.cniVersion, "string");
      assert.equal(r.stderr, "", "no stack trace");
      assert.equal(ipIn(fx.node, "-o", "link").split("\n").length, linksBefore, "no link was made");
      assert.doesNotMatch(ipIn(pod, "-o", "link"), /eth0/);
      assert.deepEqual(storedAllocations(files.dataDir), []);
    });
  }

  test("an exhausted subnet → code 101 saying how many are in use, and no partial pod", () => {
    const small = new PluginFiles("10.244.9.1/30"); // one pod address: .2
    try {
      const a = ns.add("ex1");
      const b = ns.add("ex2");
      const conf = JSON.stringify(small.config("1.0.0", { bridge: "weftx" }));
      assert.equal(runPlugin(fx.node, cniEnv("ADD", "x1", `/run/netns/${a}`), conf).status, 0);
      const r = runPlugin(fx.node, cniEnv("ADD", "x2", `/run/netns/${b}`), conf);
      assert.equal(r.json?.code, 101, r.stdout);
      assert.match(String(r.json?.msg), /no free address in node subnet 10\.244\.9\.0\/30: all 1 pod addresses are allocated/);
      assert.match(String(r.json?.details), /larger subnets/);
      assert.doesNotMatch(ipIn(b, "-o", "link"), /eth0/);
      assert.equal(runPlugin(fx.node, cniEnv("DEL", "x1", `/run/netns/${a}`), conf).status, 0);
    } finally {
      small.remove();
    }
  });

  // The plugin's QuickJS host decodes stdin and the environment itself (src/sys/qjs-host.c):
  // as TextDecoder does, what is not UTF-8 becomes U+FFFD and a leading byte-order mark is dropped.
  test("bytes that are not UTF-8 read as U+FFFD, as TextDecoder reads them", () => {
    const name = Buffer.from([0x61, 0xff, 0xe2, 0x82, 0x62, 0xed, 0xa0, 0x80, 0x63]); // a, a stray byte, a cut character, b, a surrogate's bytes, c
    const stdin = Buffer.concat([Buffer.from('{"cniVersion":"1.0.0","name":"'), name, Buffer.from('","type":"weft"}')]);
    const r = runPlugin(fx.node, cniEnv("ADD", "e1", netns), stdin);
    assert.equal(r.json?.code, 7, r.stdout);
    assert.ok(String(r.json?.msg).includes(`name=${JSON.stringify(new TextDecoder().decode(name))}`), String(r.json?.msg));
    const id = spawnSync("sh", ["-c", 'CNI_CONTAINERID=$(printf "x\\377y") exec ip netns exec "$1" "$2"', "sh", fx.node, PLUGIN], {
      input: good(), env: { PATH: process.env.PATH, CNI_COMMAND: "ADD", CNI_NETNS: netns, CNI_IFNAME: "eth0", CNI_PATH: "/usr/lib/cni" }, encoding: "utf8",
    });
    assert.match(String((JSON.parse(id.stdout) as { msg?: string }).msg), /CNI_CONTAINERID "x\uFFFDy" is invalid/);
  });

  test("a configuration that starts with a UTF-8 byte-order mark reads as without it", () => {
    const r = runPlugin(fx.node, { CNI_COMMAND: "VERSION" }, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"cniVersion":"0.4.0"}')]));
    assert.equal(r.status, 0, r.stdout);
    assert.equal(r.json?.cniVersion, "0.4.0");
  });
});
