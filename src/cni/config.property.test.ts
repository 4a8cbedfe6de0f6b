/**
 * Property: whatever JSON a runtime puts on stdin, the plugin's parsing
 * (decodeStdin, parseConfig with its prevResult and dns) gives either a
 * configuration whose result can be built and encoded in every version,
 * or a CniError with a spec or weft code and a message in weft's words,
 * never a JavaScript error or a JavaScript message.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeStdin, parseConfig } from "./config.ts";
import { CniError } from "./errors.ts";
import { EMPTY_RESULT, encodeResult, extend, type Result } from "./result.ts";
import { SUPPORTED_VERSIONS } from "./version.ts";

const CODES = new Set([1, 2, 6, 7]);
const JS_TEXT = /TypeError|ReferenceError|RangeError|SyntaxError|JSON Parse error|Unexpected token|is not an object|is not a function|Cannot read propert|undefined is not an object|null is not an object|\[object Object\]/;

/** JSON values, with what JSON.parse makes of 1e400 and -0 among the numbers. */
const { json } = fc.letrec<{ json: unknown }>((tie) => ({
  json: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(null, true, false, Infinity, -Infinity, -0, 0, 1, 576, 1450, 65536, 1.5, ""),
    fc.string(),
    fc.constantFrom("eth0", "weft0", "lo", "10.244.1.2/24", "10.244.1.1", "fd00::2/64", "::", "0.0.0.0/0", "/run/netns/x", "4", "6", "abc", "a/b"),
    fc.double(),
    fc.integer(),
    fc.array(tie("json"), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string(), fc.constantFrom("name", "mac", "sandbox", "mtu", "address", "gateway", "interface", "version", "dst", "gw", "nameservers", "search", "domain", "options")), tie("json"), { maxKeys: 4 }),
  ),
}));

/** Mostly `valid`, sometimes any JSON: one bad field at a time is what reaches the deep checks. */
const mostly = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: json });

const iface = mostly(fc.record({ name: mostly(fc.constantFrom("eth0", "veth1", "weft0")), mac: mostly(fc.constant("aa:bb:cc:dd:ee:ff")), sandbox: mostly(fc.constant("/run/netns/p")), mtu: mostly(fc.nat(9000)) }, { requiredKeys: ["name"] }));
const ip = mostly(fc.record({ address: mostly(fc.constantFrom("10.1.2.3/24", "fd00::3/64")), gateway: mostly(fc.constantFrom("10.1.2.1", "fd00::1")), interface: mostly(fc.nat(3)), version: mostly(fc.constantFrom("4", "6")) }, { requiredKeys: ["address"] }));
const route = mostly(fc.record({ dst: mostly(fc.constantFrom("0.0.0.0/0", "::/0", "10.96.0.0/12")), gw: mostly(fc.constant("10.1.2.1")), table: mostly(fc.nat(255)) }, { requiredKeys: ["dst"] }));
const dns = mostly(fc.record({ nameservers: mostly(fc.array(mostly(fc.constantFrom("10.96.0.10", "fd00::a")), { maxLength: 2 })), domain: mostly(fc.constant("cluster.local")), search: mostly(fc.array(fc.string(), { maxLength: 2 })), options: mostly(fc.array(fc.string(), { maxLength: 2 })) }, { requiredKeys: [] }));

/** A prevResult shaped like one, with now and then any value in any place. */
const prevResult = mostly(
  fc.record(
    {
      cniVersion: fc.constantFrom(...SUPPORTED_VERSIONS),
      interfaces: mostly(fc.array(iface, { maxLength: 3 })),
      ips: mostly(fc.array(ip, { maxLength: 3 })),
      routes: mostly(fc.array(route, { maxLength: 3 })),
      dns,
    },
    { requiredKeys: [] },
  ),
);

/** A configuration near a valid one: each field valid or absent, now and then any JSON. */
const config = fc.record(
  {
    cniVersion: mostly(fc.constantFrom(...SUPPORTED_VERSIONS)),
    name: mostly(fc.constant("weft")),
    type: fc.constant("weft"),
    bridge: mostly(fc.constantFrom("weft0", "br-x")),
    subnetFile: mostly(fc.constant("/run/weft/subnet.env")),
    dataDir: mostly(fc.constant("/var/lib/weft/ipam")),
    mtu: mostly(fc.integer({ min: 576, max: 65535 })),
    hairpinMode: mostly(fc.boolean()),
    dns,
    prevResult,
    "cni.dev/valid-attachments": mostly(fc.array(fc.record({ containerID: fc.string(), ifname: fc.string() }), { maxLength: 2 })),
  },
  { requiredKeys: ["cniVersion", "name", "type"] },
);

/** What the plugin does with stdin up to the verb: decode, parse, and (ADD) build and encode a result. */
function parseAndEncode(stdin: string): void {
  const conf = parseConfig(decodeStdin(stdin));
  const own: Result = {
    interfaces: [{ name: conf.bridge, mac: "aa:bb:cc:dd:ee:ff" }, { name: "eth0", mac: "aa:bb:cc:dd:ee:00", sandbox: "/run/netns/p", mtu: conf.mtu ?? 1450 }],
    ips: [{ address: "10.244.1.2/24", gateway: "10.244.1.1", interface: 1 }],
    routes: [{ dst: "0.0.0.0/0", gw: "10.244.1.1" }],
    dns: conf.dns,
  };
  for (const v of SUPPORTED_VERSIONS) {
    const out = encodeResult(extend(conf.prevResult ?? EMPTY_RESULT, own), v);
    const back = JSON.parse(JSON.stringify(out)) as { ips: Array<{ interface?: number }>; interfaces: unknown[] };
    for (const ip of back.ips) assert.ok(ip.interface === undefined || (ip.interface >= 0 && ip.interface < back.interfaces.length), "ips[].interface indexes interfaces");
  }
}

function weftAnswer(stdin: string): void {
  try {
    parseAndEncode(stdin);
  } catch (err) {
    assert.ok(err instanceof CniError, `a CniError, not ${String(err)}`);
    assert.ok(CODES.has(err.code), `code ${err.code}`);
    assert.doesNotMatch(err.message, JS_TEXT);
  }
}

test("config and prevResult parsing: any JSON gives a result or a CNI error, never a JavaScript one", (t) => {
  const runs = Number(process.env.WEFT_PROPERTY_RUNS ?? 3000);
  const near = fc.check(fc.property(config, (c) => weftAnswer(JSON.stringify(c))), { numRuns: runs });
  assert.ok(!near.failed, fc.defaultReportMessage(near));
  // Infinity does not survive JSON.stringify: write it the way a user would, as 1e400.
  const inf = fc.check(fc.property(config, (c) => weftAnswer(JSON.stringify(c, (_k, v: unknown) => (v === Infinity ? "__INF__" : v === -Infinity ? "__NINF__" : v)).replaceAll('"__INF__"', "1e400").replaceAll('"__NINF__"', "-1e400"))), { numRuns: runs });
  assert.ok(!inf.failed, fc.defaultReportMessage(inf));
  const any = fc.check(fc.property(json, (v) => weftAnswer(JSON.stringify(v) ?? "")), { numRuns: runs });
  assert.ok(!any.failed, fc.defaultReportMessage(any));
  const text = fc.check(fc.property(fc.string({ unit: "binary" }), (s) => weftAnswer(s)), { numRuns: runs });
  assert.ok(!text.failed, fc.defaultReportMessage(text));
  t.diagnostic(`generated cases: ${near.numRuns} near-valid configs, ${inf.numRuns} with 1e400 in them, ${any.numRuns} arbitrary JSON values, ${text.numRuns} arbitrary texts`);
});
