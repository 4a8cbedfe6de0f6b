/**
 * weft under libcni, the library containerd, CRI-O and Podman use, chained
 * with the reference portmap and tuning plugins. Two recorder plugins, one
 * before weft and one after, log the order libcni runs the chain in.
 *
 * The node is IPv4-only: its PATH has an ip6tables that says IPv6 is not
 * available. Debian's portmap (1.1.1) otherwise fails every CHECK of an
 * IPv4-only pod with a hostPort, looking for IPv6 rules it never made
 * (containernetworking/plugins#819, fixed upstream after 1.1.1).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { installCni } from "../../src/cli/commands/install-cni.ts";
import { storedAllocations } from "../support/ipam-store.ts";
import { ipIn, Namespaces, runIn } from "../support/netns.ts";

const root = resolve(import.meta.dirname, "../..");
const CNICLIENT = join(root, "build/cniclient");

/** A CNI plugin that logs "<its name> <verb>" and passes prevResult through. */
const RECORDER = `#!${process.execPath}
const fs = require("node:fs");
const name = require("node:path").basename(process.argv[1]);
const verb = process.env.CNI_COMMAND;
if (verb === "VERSION") { process.stdout.write(JSON.stringify({ cniVersion: "1.0.0", supportedVersions: ["0.4.0", "1.0.0"] })); process.exit(0); }
const conf = JSON.parse(fs.readFileSync(0, "utf8"));
fs.appendFileSync(process.env.WEFT_TEST_RECORD || "/dev/null", name + " " + verb + "\\n");
if (verb === "ADD") process.stdout.write(JSON.stringify({ ...conf.prevResult, cniVersion: conf.cniVersion }));
`;

describe("weft chained under libcni with portmap and tuning", () => {
  const ns = new Namespaces("wcn");
  const dir = mkdtempSync(join(tmpdir(), "weft-libcni-"));
  const bin = join(dir, "bin");
  const conf = join(dir, "net.d");
  const cache = join(dir, "cache");
  const record = join(dir, "record.log");
  let node = "";
  let pod = "";
  let client = "";
  let server: ChildProcess | undefined;

  // Like containerd, every verb carries the same capability args.
  const ports = JSON.stringify({ portMappings: [{ hostPort: 18080, containerPort: 8080, protocol: "tcp" }] });
  const cni = (verb: string) =>
    spawnSync("ip", ["netns", "exec", node, CNICLIENT, "--conf-dir", conf, "--path", `${bin}:/usr/lib/cni`, "--cache-dir", cache, "--args", "IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_NAMESPACE=shop", "--cap-json", ports, verb, "weft", `/run/netns/${pod}`, "eth0", "ctr-libcni"], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${join(dir, "ipv4-only")}:${process.env.PATH}`, WEFT_TEST_RECORD: record },
    });

  before(() => {
    node = ns.add("node");
    pod = ns.add("pod");
    client = ns.add("cli");
    // A client host on a link to the node, to reach the hostPort from outside.
    ipIn(node, "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", client);
    ipIn(node, "addr", "add", "192.168.77.1/24", "dev", "up0");
    ipIn(node, "link", "set", "up0", "up");
    ipIn(client, "addr", "add", "192.168.77.2/24", "dev", "eth0");
    ipIn(client, "link", "set", "eth0", "up");
    ipIn(client, "route", "add", "default", "via", "192.168.77.1");
    writeFileSync(join(dir, "subnet.env"), "WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.3.1/24\nWEFT_MTU=1450\nWEFT_IPMASQ=true\n");
    installCni({ binDir: bin, confDir: conf, subnetFile: join(dir, "subnet.env"), dataDir: join(dir, "ipam") });
    for (const r of ["rec-a", "rec-b"]) symlinkSync(join(dir, "recorder.cjs"), join(bin, r));
    writeFileSync(join(dir, "recorder.cjs"), RECORDER);
    chmodSync(join(dir, "recorder.cjs"), 0o755);
    // The installed conflist, with the recorders and tuning spliced in.
    const list = JSON.parse(readFileSync(join(conf, "10-weft.conflist"), "utf8"));
    list.plugins = [{ type: "rec-a" }, list.plugins[0], { type: "rec-b" }, list.plugins[1], { type: "tuning", sysctl: { "net.core.somaxconn": "1024" } }];
    writeFileSync(join(conf, "10-weft.conflist"), JSON.stringify(list));
    mkdirSync(cache, { recursive: true });
    mkdirSync(join(dir, "ipv4-only"));
    writeFileSync(join(dir, "ipv4-only", "ip6tables"), "#!/bin/sh\necho 'ip6tables: IPv6 is not available on this node' >&2\nexit 3\n", { mode: 0o755 });
  });
  after(() => {
    server?.kill();
    ns.removeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test("libcni's VERSION probe (GetVersionInfo sets CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME and CNI_PATH to \"dummy\") gets every version", () => {
    const r = spawnSync(CNICLIENT, ["--path", bin, "version", "weft"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).supportedVersions, ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
  });

  test("ADD through the chain: weft's result reaches portmap and tuning", () => {
    const r = cni("add");
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.match(result.ips[0].address, /^10\.244\.3\.\d+\/24$/);
    assert.equal(runIn(pod, ["cat", "/proc/sys/net/core/somaxconn"]).stdout.trim(), "1024", "tuning ran on weft's pod");
    assert.deepEqual(readFileSync(record, "utf8").trim().split("\n"), ["rec-a ADD", "rec-b ADD"]);
    // The pod name from CNI_ARGS is recorded with its address.
    assert.equal(storedAllocations(join(dir, "ipam"))[0]?.pod, "shop/web");
  });

  test("a portmap hostPort on the node reaches the pod", async () => {
    server = spawn("ip", ["netns", "exec", pod, process.execPath, "-e", `require("node:net").createServer((s) => s.end("hello from " + s.localAddress + "\\n")).listen(8080, "0.0.0.0", () => console.log("ready"))`], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((res) => server!.stdout!.once("data", () => res()));
    const got = runIn(client, [process.execPath, "-e", `const s = require("node:net").connect(18080, "192.168.77.1"); s.on("data", (d) => process.stdout.write(d)); s.on("error", (e) => { console.error(e.message); process.exit(1); })`]);
    assert.equal(got.status, 0, got.stderr);
    assert.match(got.stdout, /^hello from 10\.244\.3\.\d+/);
  });

  test("CHECK passes on a healthy pod and fails when the pod has lost its address", () => {
    const ok = cni("check");
    assert.equal(ok.status, 0, ok.stderr);
    ipIn(pod, "addr", "flush", "dev", "eth0");
    const bad = cni("check");
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /CHECK failed for ctr-libcni\/eth0: interface eth0 has lost its address 10\.244\.3\.\d+\/24/);
  });

  test("DEL runs the chain in reverse and removes everything", () => {
    writeFileSync(record, "");
    const r = cni("del");
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readFileSync(record, "utf8").trim().split("\n"), ["rec-b DEL", "rec-a DEL"]);
    assert.doesNotMatch(ipIn(pod, "link"), /eth0/);
    assert.doesNotMatch(ipIn(node, "link"), /veth/);
    assert.deepEqual(storedAllocations(join(dir, "ipam")), []);
    assert.doesNotMatch(runIn(node, ["iptables-save", "-t", "nat"]).stdout, /18080/, "portmap's rules are gone");
    assert.equal(cni("del").status, 0, "and again");
  });
});

/**
 * What a runtime does before it ever calls ADD: CRI-O (through ocicni) and
 * Podman call libcni's ValidateNetworkList for every network they load,
 * which runs the plugin's VERSION with CNI_CONTAINERID, CNI_NETNS,
 * CNI_IFNAME and CNI_PATH set to "dummy". A plugin that fails there is
 * dropped and the node has no pod network. Then libcni's STATUS and GC
 * (CNI 1.1.0), which carry no container at all.
 */
describe("libcni validates, asks STATUS of and garbage-collects a weft network", () => {
  const ns = new Namespaces("wcv");
  const dir = mkdtempSync(join(tmpdir(), "weft-libcni-v-"));
  const bin = join(dir, "bin");
  const conf = join(dir, "net.d");
  const cache = join(dir, "cache");
  const subnetFile = join(dir, "subnet.env");
  let node = "";

  const cniclient = (...args: string[]) =>
    spawnSync("ip", ["netns", "exec", node, CNICLIENT, "--conf-dir", conf, "--path", `${bin}:/usr/lib/cni`, "--cache-dir", cache, ...args], { encoding: "utf8" });
  /** One weft-only network list at `cniVersion`, named after it. */
  const network = (cniVersion: string): string => {
    const name = `weft-${cniVersion.replaceAll(".", "")}`;
    rmSync(conf, { recursive: true, force: true });
    mkdirSync(conf, { recursive: true });
    writeFileSync(join(conf, `10-${name}.conflist`), JSON.stringify({ cniVersion, name, plugins: [{ type: "weft", subnetFile, dataDir: join(dir, "ipam") }] }));
    return name;
  };

  before(() => {
    node = ns.add("node");
    installCni({ binDir: bin, confDir: conf, subnetFile, dataDir: join(dir, "ipam") });
    mkdirSync(cache, { recursive: true });
  });
  after(() => {
    ns.removeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const cniVersion of ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]) {
    test(`ValidateNetworkList accepts a ${cniVersion} network`, () => {
      const r = cniclient("validate", network(cniVersion));
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { cniVersion, capabilities: [] });
    });
  }

  test("ValidateNetworkList still refuses a version weft does not speak", () => {
    const r = cniclient("validate", network("0.2.0"));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /plugin weft does not support config version "0\.2\.0"/);
  });

  test("STATUS through libcni: cannot add pods before the agent's subnet file, can after", () => {
    const name = network("1.1.0");
    rmSync(subnetFile, { force: true });
    const before = cniclient("status", name);
    assert.equal(before.status, 1);
    assert.match(before.stderr, /subnet/i);
    writeFileSync(subnetFile, "WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.9.1/24\nWEFT_MTU=1450\nWEFT_IPMASQ=true\n");
    const after = cniclient("status", name);
    assert.equal(after.status, 0, after.stderr);
  });

  test("GC through libcni: DELs the attachments the runtime no longer has and keeps the rest", () => {
    const name = network("1.1.0");
    const pods = [ns.add("gc-a"), ns.add("gc-b")];
    const ids = ["ctr-keep", "ctr-gone"];
    pods.forEach((pod, i) => {
      const r = cniclient("add", name, `/run/netns/${pod}`, "eth0", ids[i]!);
      assert.equal(r.status, 0, r.stderr);
    });
    assert.equal(storedAllocations(join(dir, "ipam"), name).length, 2);
    const r = cniclient("gc", name, "ctr-keep/eth0");
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(storedAllocations(join(dir, "ipam"), name).map((a) => a.containerId), ["ctr-keep"]);
    assert.doesNotMatch(ipIn(pods[1]!, "link"), /eth0/, "the collected pod lost its interface");
    assert.match(ipIn(pods[0]!, "addr", "show", "eth0"), /inet 10\.244\.9\.\d+\/24/, "the kept pod is untouched");
  });
});
