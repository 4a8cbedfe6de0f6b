/**
 * The plugin against the CNI spec, for every version it reports: ADD's
 * result shape, CHECK, DEL, STATUS, GC and VERSION, and which verbs each
 * version has. Runs the real executable in namespaces made here.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { cniEnv, PluginNode, runPlugin } from "../support/cni.ts";
import { ipIn, runIn } from "../support/netns.ts";

const VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
const modern = (v: string) => v === "1.0.0" || v === "1.1.0";

describe("CNI spec, every version", () => {
  const fx = new PluginNode("wcs");
  const { ns, files } = fx;

  for (const version of VERSIONS) {
    test(`ADD, CHECK and DEL with cniVersion ${version}`, () => {
      const pod = ns.add(`v${version.replaceAll(".", "")}`);
      const netns = `/run/netns/${pod}`;
      const id = `spec-${version}`;
      const conf = files.config(version);
      const add = runPlugin(fx.node, cniEnv("ADD", id, netns), JSON.stringify(conf));
      assert.equal(add.status, 0, add.stdout);
      const r = add.json!;
      assert.equal(r.cniVersion, version);
      const ifaces = r.interfaces as Array<{ name: string; mac: string; sandbox?: string; mtu?: number }>;
      assert.deepEqual(ifaces.map((i) => i.name).filter((n) => n === "weft0" || n === "eth0"), ["weft0", "eth0"]);
      assert.equal(ifaces[2]!.sandbox, netns);
      assert.match(ifaces[2]!.mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      assert.equal(ifaces[2]!.mtu, version === "1.1.0" ? 1450 : undefined, "mtu on interfaces only from 1.1.0");
      const ip = (r.ips as Array<Record<string, unknown>>)[0]!;
      assert.equal(ip.version, modern(version) ? undefined : "4");
      assert.equal(ip.interface, 2);
      assert.equal(ip.gateway, "10.244.1.1");
      assert.match(String(ip.address), /^10\.244\.1\.\d+\/24$/);
      // The kernel agrees with the result.
      assert.match(ipIn(pod, "-4", "-o", "addr", "show", "eth0"), new RegExp(String(ip.address).replaceAll(".", "\\.")));
      assert.match(ipIn(pod, "-4", "-o", "addr", "show", "eth0"), / brd 10\.244\.1\.255 /, "the subnet's broadcast address");
      assert.match(ipIn(fx.node, "-4", "-o", "addr", "show", "weft0"), /inet 10\.244\.1\.1\/24 brd 10\.244\.1\.255 /, "the gateway on the bridge");
      assert.match(ipIn(pod, "route", "show", "default"), /default via 10\.244\.1\.1 dev eth0/);
      assert.match(ipIn(pod, "link", "show", "eth0"), /mtu 1450 .*state UP/);
      assert.match(ipIn(fx.node, "-d", "link", "show", ifaces[1]!.name), /master weft0[\s\S]*hairpin on/);
      assert.equal(runIn(fx.node, ["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout.trim(), "1");
      assert.equal(runIn(pod, ["ping", "-c1", "-W2", "10.244.1.1"]).status, 0, "pod reaches its gateway");

      const withPrev = JSON.stringify({ ...conf, prevResult: r });
      const check = runPlugin(fx.node, cniEnv("CHECK", id, netns), withPrev);
      if (version.startsWith("0.3")) {
        assert.equal(check.status, 1);
        assert.equal(check.json?.code, 1, "CHECK is not part of 0.3.x");
      } else {
        assert.equal(check.status, 0, check.stdout);
        assert.equal(check.stdout, "", "CHECK prints nothing on success");
      }
      const del = runPlugin(fx.node, cniEnv("DEL", id, netns), withPrev);
      assert.equal(del.status, 0, del.stdout);
      assert.equal(del.stdout, "");
      assert.doesNotMatch(ipIn(fx.node, "link"), new RegExp(ifaces[1]!.name));
      assert.doesNotMatch(ipIn(pod, "link"), /eth0/);
    });
  }

  test("VERSION reports every supported version, in the version asked for", () => {
    for (const asked of [...VERSIONS, undefined]) {
      const r = runPlugin(fx.node, { CNI_COMMAND: "VERSION" }, asked ? JSON.stringify({ cniVersion: asked }) : "");
      assert.equal(r.status, 0);
      assert.deepEqual(r.json, { cniVersion: asked ?? "1.1.0", supportedVersions: VERSIONS });
    }
  });

  test("STATUS and GC exist only from 1.1.0", () => {
    for (const version of VERSIONS.slice(0, 4)) {
      for (const verb of ["STATUS", "GC"]) {
        const r = runPlugin(fx.node, { CNI_COMMAND: verb, CNI_PATH: "/usr/lib/cni" }, JSON.stringify(files.config(version, { "cni.dev/valid-attachments": [] })));
        assert.equal(r.json?.code, 1, `${verb} with ${version}: ${r.stdout}`);
        assert.match(String(r.json?.msg), new RegExp(`${verb} is not part of CNI ${version}`));
      }
    }
  });

  test("STATUS is ready with a subnet file and answers 50 without one", () => {
    const ok = runPlugin(fx.node, { CNI_COMMAND: "STATUS" }, JSON.stringify(files.config("1.1.0")));
    assert.equal(ok.status, 0, ok.stdout);
    assert.equal(ok.stdout, "");
    const missing = runPlugin(fx.node, { CNI_COMMAND: "STATUS" }, JSON.stringify(files.config("1.1.0", { subnetFile: `${files.dir}/none.env` })));
    assert.equal(missing.status, 1);
    assert.equal(missing.json?.code, 50);
    assert.match(String(missing.json?.msg), /has not leased a subnet/);
  });

  test("GC releases every attachment not in cni.dev/valid-attachments, with its veth", () => {
    const pods = ["a", "b", "c"].map((p) => ns.add(`gc${p}`));
    for (const [i, pod] of pods.entries()) {
      const r = runPlugin(fx.node, cniEnv("ADD", `gc-${i}`, `/run/netns/${pod}`), JSON.stringify(files.config("1.1.0")));
      assert.equal(r.status, 0, r.stdout);
    }
    const gc = runPlugin(fx.node, { CNI_COMMAND: "GC", CNI_PATH: "/usr/lib/cni" }, JSON.stringify(files.config("1.1.0", { "cni.dev/valid-attachments": [{ containerID: "gc-1", ifname: "eth0" }] })));
    assert.equal(gc.status, 0, gc.stdout);
    assert.equal(gc.stdout, "");
    assert.doesNotMatch(ipIn(pods[0]!, "link"), /eth0/, "gc-0's veth is gone");
    assert.match(ipIn(pods[1]!, "link"), /eth0/, "gc-1 is kept");
    assert.doesNotMatch(ipIn(pods[2]!, "link"), /eth0/, "gc-2's veth is gone");
    const del = runPlugin(fx.node, cniEnv("DEL", "gc-1", `/run/netns/${pods[1]}`), JSON.stringify(files.config("1.1.0")));
    assert.equal(del.status, 0);
    // Nothing is left in the store.
    const gc2 = runPlugin(fx.node, { CNI_COMMAND: "GC", CNI_PATH: "/usr/lib/cni" }, JSON.stringify(files.config("1.1.0", { "cni.dev/valid-attachments": [] })));
    assert.equal(gc2.status, 0);
  });
});
