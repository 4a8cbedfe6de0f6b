import { test } from "node:test";
import assert from "node:assert/strict";
import { bridgeNameProblem, parseConfig, pluginPathProblem } from "./config.ts";
import { CniError } from "./errors.ts";
import { encodeResult, extend } from "./result.ts";

const base = { cniVersion: "1.0.0", name: "weft", type: "weft" };

/** [config fields over `base`, CNI code, message] */
const refused: Array<[Record<string, unknown>, number, RegExp]> = [
  [{ prevResult: { interfaces: [null] } }, 7, /prevResult\.interfaces\[0\]=null must be an object/],
  [{ prevResult: { interfaces: [{}] } }, 7, /prevResult\.interfaces\[0\]\.name is missing; it must be a string/],
  [{ prevResult: { interfaces: [{ name: "" }] } }, 7, /prevResult\.interfaces\[0\]\.name="" must not be empty/],
  [{ prevResult: { interfaces: [{ name: "a", mtu: 1.5 }] } }, 7, /prevResult\.interfaces\[0\]\.mtu=1\.5 must be an integer/],
  [{ prevResult: { interfaces: "x", dns: "str" } }, 7, /prevResult\.interfaces="x" must be a list/],
  [{ prevResult: { ips: [{}] } }, 7, /prevResult\.ips\[0\]\.address is missing; it must be an address\/prefix length/],
  [{ prevResult: { ips: [null] } }, 7, /prevResult\.ips\[0\]=null must be an object/],
  [{ prevResult: { ips: [{ address: "abc" }] } }, 7, /prevResult\.ips\[0\]\.address="abc" is not an address\/prefix length/],
  [{ prevResult: { ips: [{ address: "10.1.2.3" }] } }, 7, /prevResult\.ips\[0\]\.address="10\.1\.2\.3" is not/],
  [{ prevResult: { ips: [{ address: "10.1.2.3/33" }] } }, 7, /prevResult\.ips\[0\]\.address/],
  [{ prevResult: { ips: [{ address: "10.1.2.3/24", gateway: "x" }] } }, 7, /prevResult\.ips\[0\]\.gateway="x" is not an IPv4 or IPv6 address/],
  [{ prevResult: { ips: [{ address: "10.1.2.3/24", interface: 0 }] } }, 7, /prevResult\.ips\[0\]\.interface=0 is not an index into prevResult\.interfaces \(which has 0\)/],
  [{ prevResult: { ips: [{ address: "10.1.2.3/24", version: "5" }] } }, 7, /prevResult\.ips\[0\]\.version="5" must be "4" or "6"/],
  [{ prevResult: { routes: [{ dst: "0.0.0.0/0", gw: 1 }] } }, 7, /prevResult\.routes\[0\]\.gw=1 is not an IPv4 or IPv6 address/],
  [{ prevResult: { routes: [{ dst: "0.0.0.0/0", table: -1 }] } }, 7, /prevResult\.routes\[0\]\.table=-1 must be an integer/],
  [{ prevResult: { dns: "str" } }, 7, /prevResult\.dns="str" must be an object/],
  [{ prevResult: { dns: { nameservers: [1] } } }, 7, /prevResult\.dns\.nameservers\[0\]=1 must be a string/],
  [{ prevResult: { dns: { colour: 1 } } }, 2, /unsupported field in network configuration: prevResult\.dns\.colour=1/],
  [{ prevResult: [] }, 7, /prevResult=\[\] must be an object/],
  [{ dns: "str" }, 7, /dns="str" must be an object/],
  [{ dns: { nameservers: ["10.96.0.10", "ten"] } }, 7, /dns\.nameservers\[1\]="ten" is not an IPv4 or IPv6 address/],
  [{ dns: { search: "svc" } }, 7, /dns\.search="svc" must be a list of strings/],
  [{ mtu: Infinity }, 7, /mtu=Infinity \(a number too large to represent\) must be an integer from 576 to 65535/],
  [{ frob: [-Infinity] }, 2, /frob=\[-Infinity\]/],
  [{ bridge: "a/b" }, 7, /bridge="a\/b" is not a valid interface name/],
  [{ bridge: "a\u0000b" }, 7, /bridge="a\\u0000b" is not a valid interface name/],
  [{ bridge: 5 }, 7, /bridge=5 must be a string/],
  [{ dataDir: "/var/lib/weft\u0000x" }, 7, /dataDir=.* must not contain a NUL character/],
  [{ subnetFile: `/${"x".repeat(5000)}` }, 7, /subnetFile=.*… must be shorter than 4096 bytes/],
  [{ name: undefined }, 7, /name is missing; it must start with a letter or digit/],
  [{ "cni.dev/valid-attachments": [{ containerID: 1 }] }, 7, /cni\.dev\/valid-attachments\[0\]=\{"containerID":1\} must be/],
];

for (const [extra, code, re] of refused) {
  test(`parseConfig refuses ${JSON.stringify(extra)} with ${code}`, () => {
    assert.throws(() => parseConfig({ ...base, ...extra }), (e: Error) => e instanceof CniError && e.code === code && re.test(e.message));
  });
}

test("a valid prevResult of any version is read into the common shape and extended", () => {
  const prev = {
    cniVersion: "0.4.0",
    interfaces: [{ name: "eth0", mac: "aa:bb:cc:dd:ee:ff", sandbox: "/run/netns/p", socketPath: "/x" }],
    ips: [{ version: "6", address: "fd00::2/64", gateway: "fd00::1", interface: 0 }],
    routes: [{ dst: "::/0" }],
    dns: {},
  };
  const conf = parseConfig({ ...base, cniVersion: "0.4.0", prevResult: prev });
  assert.deepEqual(conf.prevResult, { interfaces: prev.interfaces, ips: [{ address: "fd00::2/64", gateway: "fd00::1", interface: 0 }], routes: [{ dst: "::/0" }], dns: undefined });
  const own = { interfaces: [{ name: "weft0", mac: "01:02:03:04:05:06" }], ips: [{ address: "10.244.1.2/24", interface: 0 }], routes: [], dns: undefined };
  const out = encodeResult(extend(conf.prevResult!, own), "0.4.0");
  assert.deepEqual(out.ips, [{ version: "6", address: "fd00::2/64", gateway: "fd00::1", interface: 0 }, { version: "4", address: "10.244.1.2/24", interface: 1 }]);
});

test("install-cni's checks are the plugin's own", () => {
  assert.equal(bridgeNameProblem("weft0"), undefined);
  for (const bad of ["a/b", "x".repeat(16), "", ".", "a b", "a:b"]) assert.match(bridgeNameProblem(bad) ?? "", /is not a valid interface name/, bad);
  assert.equal(pluginPathProblem("/var/lib/weft/ipam"), undefined);
  assert.equal(pluginPathProblem("relative/bin"), "must be an absolute path");
  assert.equal(pluginPathProblem("/a\u0000b"), "must not contain a NUL character");
});
