import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configFromArgs } from "../cli/commands/agent.ts";
import { WeftError } from "../lib/errors.ts";
import { agentPaths, defaultConfig, flagOf, readConfigFile, validateConfig } from "./config.ts";

const tmp = mkdtempSync(join(tmpdir(), "weft-agent-config-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
}

test("defaults are flannel's and DESIGN.md's", () => {
  const c = validateConfig(defaultConfig());
  assert.equal(c.podCidr, "10.244.0.0/16");
  assert.equal(c.subnetLen, 24);
  assert.equal(c.backend, "vxlan");
  assert.equal(c.vxlanVni, 1);
  assert.equal(c.vxlanPort, 8472);
  assert.equal(c.ipMasq, true);
  assert.equal(c.store, "embedded");
  assert.equal(c.leaseTtl, 86_400);
  assert.deepEqual(agentPaths(c), {
    runDir: "/run/weft", stateDir: "/var/lib/weft", subnetFile: "/run/weft/subnet.env",
    socket: "/run/weft/agent.sock", ipamDir: "/var/lib/weft/ipam",
  });
});

test("flags win over the file, which wins over the defaults", () => {
  const f = file("ok.json", JSON.stringify({ podCidr: "10.200.0.0/16", backend: "host-gw", iface: ["eth1"], ipMasq: false }));
  const { config } = configFromArgs(["--config", f, "--backend", "vxlan", "--iface", "eth2", "--iface", "10.0.0.1", "--etcd-endpoints", "http://a:2379,http://b:2379"]);
  assert.equal(config.podCidr, "10.200.0.0/16");
  assert.equal(config.backend, "vxlan");
  assert.deepEqual(config.iface, ["eth2", "10.0.0.1"]);
  assert.equal(config.ipMasq, false);
  assert.deepEqual(config.etcdEndpoints, ["http://a:2379", "http://b:2379"]);
  assert.equal(configFromArgs(["--config", f, "--ip-masq"]).config.ipMasq, true);
});

const bad: [string, string[], RegExp][] = [
  ["unknown flag", ["--bogus"], /agent: Unknown option '--bogus'/],
  ["bad CIDR", ["--pod-cidr", "10.244.0.0/33"], /--pod-cidr/],
  ["host bits in the CIDR", ["--pod-cidr", "10.244.1.0/16"], /--pod-cidr/],
  ["subnet not smaller than the CIDR", ["--pod-cidr", "10.244.0.0/24", "--subnet-len", "24"], /invalid --subnet-len 24: a node subnet must be smaller than the cluster CIDR 10\.244\.0\.0\/24/],
  ["subnet-min outside", ["--subnet-min", "10.1.0.0"], /invalid --subnet-min "10\.1\.0\.0": not inside the cluster CIDR/],
  ["subnet-min unaligned", ["--subnet-min", "10.244.1.5"], /not the first address of a \/24/],
  ["min above max", ["--subnet-min", "10.244.9.0", "--subnet-max", "10.244.2.0"], /above --subnet-max/],
  ["unknown backend", ["--backend", "ipip"], /invalid --backend "ipip": unknown backend; use one of: vxlan, host-gw/],
  ["VNI out of range", ["--vxlan-vni", "0"], /invalid --vxlan-vni 0: expected 1 to 16777215/],
  ["not a number", ["--vxlan-port", "http"], /--vxlan-port http: expected an integer/],
  ["bad public IP", ["--public-ip", "10.0.0"], /invalid --public-ip "10\.0\.0": not an IPv4 address/],
  ["unknown store", ["--store", "consul"], /unknown store; use one of: embedded, etcd/],
  ["bad endpoint", ["--store", "etcd", "--etcd-endpoints", "etcd:2379"], /"etcd:2379" is not an http\(s\):\/\/HOST:PORT URL/],
  ["cert without key", ["--etcd-cert-file", "/x.pem"], /needs its key/],
  ["TTL too short", ["--lease-ttl", "1"], /invalid --lease-ttl 1: expected 10 to 604800/],
  ["both masq flags", ["--ip-masq", "--no-ip-masq"], /contradict/],
  ["bad node name", ["--node-name", "a b"], /invalid --node-name "a b"/],
  // Issue 17: every path is absolute (item 11), no loopback underlay (item 9),
  // negative values reach the range check (item 16), no integer beyond 2^53.
  ["relative run dir", ["--run-dir", "run"], /^--run-dir must be an absolute path, got "run"/],
  ["relative state dir", ["--state-dir", "./lib"], /^--state-dir must be an absolute path, got "\.\/lib"/],
  ["relative store dir", ["--store-dir", "store"], /^--store-dir must be an absolute path/],
  ["relative etcd CA file", ["--etcd-ca-file", "ca.pem"], /^--etcd-ca-file must be an absolute path/],
  ["relative config file", ["--config", "agent.json"], /^--config must be an absolute path, got "agent\.json"/],
  ["loopback public IP", ["--public-ip", "127.0.0.5"], /invalid --public-ip "127\.0\.0\.5": a loopback address; peers could not reach/],
  ["unspecified public IP", ["--public-ip", "0.0.0.0"], /invalid --public-ip "0\.0\.0\.0": the unspecified address/],
  ["multicast public IP", ["--public-ip", "224.0.0.1"], /a multicast address/],
  ["loopback to reach", ["--iface-can-reach", "127.0.0.1"], /invalid --iface-can-reach "127\.0\.0\.1": a loopback address, which no other node reaches/],
  ["negative MTU", ["--mtu", "-5"], /invalid --mtu -5: expected 576 to 65535/],
  ["negative VNI", ["--vxlan-vni", "-1"], /invalid --vxlan-vni -1: expected 1 to 16777215/],
  ["integer beyond 2^53", ["--lease-ttl", "99999999999999999999"], /--lease-ttl 99999999999999999999: expected an integer of at most 2\^53 - 1/],
];
for (const [name, argv, message] of bad) {
  test(`rejected: ${name}`, () => {
    assert.throws(() => configFromArgs(argv), (err: unknown) => err instanceof WeftError && message.test(err.describe()));
  });
}

test("a config file with an unknown key, a wrong type or bad JSON is named with the key", () => {
  const cases: [string, RegExp][] = [
    [JSON.stringify({ podCIDR: "10.0.0.0/8" }), /config file .*: unknown key "podCIDR"/],
    [JSON.stringify({ subnetLen: "24" }), /"subnetLen" is "24": expected an integer/],
    [JSON.stringify({ iface: "eth0" }), /"iface" is "eth0": expected an array of strings/],
    [JSON.stringify({ ipMasq: "yes" }), /"ipMasq" is "yes": expected true or false/],
    // Issue 17, item 16: the value as the file spells it, not JSON's null for Infinity.
    ['{"subnetLen": 1e400}', /"subnetLen" is 1e400: expected an integer of at most 2\^53 - 1 in magnitude/],
    ['{"mtu": -1e400}', /"mtu" is -1e400: expected an integer/],
    ['{"leaseTtl": 9007199254740993}', /"leaseTtl" is 9007199254740993: expected an integer of at most/],
    ['{"vxlanPort": 1.5}', /"vxlanPort" is 1\.5: expected an integer/],
    ['{"iface": ["eth0", ""]}', /"iface" is \["eth0",""\]: expected an array of strings/],
    ["[1]", /must hold a JSON object/],
    ["{", /cannot read config file/],
  ];
  cases.forEach(([content, message], i) => {
    const p = file(`bad${i}.json`, content);
    assert.throws(() => readConfigFile(p), (err: unknown) => err instanceof WeftError && message.test(err.message), content);
  });
  assert.throws(() => readConfigFile(join(tmp, "absent.json")), /no such file/);
});

test("flag names are the keys in kebab-case", () => {
  assert.equal(flagOf("ifaceCanReach"), "--iface-can-reach");
  assert.equal(flagOf("etcdCaFile"), "--etcd-ca-file");
});

test("the service proxy is off by default; --service-proxy, the serviceProxy key and --service-cidr turn it on and shape it", () => {
  assert.equal(configFromArgs([]).config.serviceProxy, false);
  assert.equal(configFromArgs([]).config.serviceCidr, "10.96.0.0/12");
  assert.equal(configFromArgs(["--service-proxy"]).config.serviceProxy, true);
  assert.equal(configFromArgs(["--config", file("proxy.json", '{"serviceProxy": true, "serviceCidr": "10.100.0.0/16"}')]).config.serviceProxy, true);
  assert.equal(configFromArgs(["--service-cidr", "10.100.0.0/16"]).config.serviceCidr, "10.100.0.0/16");
  assert.throws(() => configFromArgs(["--service-cidr", "10.100.0.1/16"]), (err: unknown) => err instanceof WeftError && /host bits/.test(err.describe()));
  assert.throws(() => configFromArgs(["--service-cidr", "10.100.0.0/33"]), (err: unknown) => err instanceof WeftError && /--service-cidr/.test(err.describe()));
  assert.throws(() => configFromArgs(["--config", file("proxy-bad.json", '{"serviceProxy": "yes"}')]), (err: unknown) => err instanceof WeftError && /serviceProxy/.test(err.describe()));
});

test("network policy is on by default and strict mode off; the switches and keys change them, and contradicting switches are refused", () => {
  assert.equal(configFromArgs([]).config.networkPolicy, true);
  assert.equal(configFromArgs([]).config.strictPolicy, false);
  assert.equal(configFromArgs(["--no-network-policy"]).config.networkPolicy, false);
  assert.equal(configFromArgs(["--config", file("policy.json", '{"networkPolicy": false, "strictPolicy": true}')]).config.networkPolicy, false);
  assert.equal(configFromArgs(["--config", file("policy2.json", '{"networkPolicy": false}'), "--network-policy"]).config.networkPolicy, true);
  assert.equal(configFromArgs(["--strict-policy"]).config.strictPolicy, true);
  assert.throws(() => configFromArgs(["--network-policy", "--no-network-policy"]), (err: unknown) => err instanceof WeftError && /contradict/.test(err.describe()));
  assert.throws(() => configFromArgs(["--config", file("policy-bad.json", '{"strictPolicy": 1}')]), (err: unknown) => err instanceof WeftError && /strictPolicy/.test(err.describe()));
});
