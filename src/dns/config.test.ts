import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DNS_CONFIG_INVALID, parseDnsConfig, parseUpstream, readDnsConfig, resolvConfUpstreams } from "./config.ts";
import { WeftError } from "../lib/errors.ts";

const withDir = (fn: (dir: string) => void) => {
  const dir = mkdtempSync(join(tmpdir(), "weft-dns-config-"));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test("an empty config is every default, upstreams from resolv.conf", () => {
  withDir((dir) => {
    const resolv = join(dir, "resolv.conf");
    writeFileSync(resolv, "search example\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\noptions ndots:5\n");
    const c = parseDnsConfig("", "empty", resolv);
    assert.equal(c.zone, "cluster.local");
    assert.equal(c.ttl, 5);
    assert.equal(c.pods, "off");
    assert.deepEqual(c.upstreams, [{ host: "192.0.2.53", port: 53 }, { host: "fe80::1", port: 53 }]);
    assert.equal(c.cacheSize, 10000);
    assert.equal(c.cacheMaxTtl, 3600);
    assert.equal(c.hosts.byName.size, 0);
    assert.equal(c.listen, "0.0.0.0");
    assert.equal(c.port, 53);
    assert.equal(c.httpPort, 8080);
  });
});

test("YAML, JSON and a whole ConfigMap manifest are read alike", () => {
  withDir((dir) => {
    const yaml = join(dir, "c.yaml");
    writeFileSync(yaml, "zone: Example.Internal.\nttl: 30\npods: verified\nupstreams: [\"10.0.0.2:5353\", \"[2001:db8::2]:53\"]\nhosts:\n  - 192.0.2.1 a b\n");
    const c = readDnsConfig(yaml);
    assert.equal(c.zone, "example.internal");
    assert.equal(c.ttl, 30);
    assert.equal(c.pods, "verified");
    assert.deepEqual(c.upstreams, [{ host: "10.0.0.2", port: 5353 }, { host: "2001:db8::2", port: 53 }]);
    assert.deepEqual(c.hosts.byName.get("b"), { v4: ["192.0.2.1"], v6: [] });
    const json = join(dir, "c.json");
    writeFileSync(json, JSON.stringify({ ttl: 7, upstreams: ["192.0.2.9"] }));
    assert.equal(readDnsConfig(json).ttl, 7);
    const cm = join(dir, "cm.yaml");
    writeFileSync(cm, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: weft-dns}\ndata:\n  config.yaml: |\n    ttl: 9\n    upstreams: []\n");
    assert.equal(readDnsConfig(cm).ttl, 9);
  });
});

test("bad input is DNS_CONFIG_INVALID naming the key and the value", () => {
  const cases: [string, RegExp][] = [
    ["ttl: -1", /"ttl" is -1: expected an integer from 0 to 3600/],
    ["ttl: '5'", /"ttl" is "5"/],
    ["pods: maybe", /"pods" is "maybe": expected off, insecure or verified/],
    ["zone: 'bad zone'", /"zone" is "bad zone"/],
    ["upstreams: [dns.google]", /"upstreams".*"dns.google" is neither/],
    ["upstreams: 1.1.1.1", /"upstreams" is "1.1.1.1": expected a list/],
    ["listen: localhost", /"listen" is "localhost"/],
    ["port: 70000", /"port" is 70000/],
    ["cacheSize: 1.5", /"cacheSize" is 1.5/],
    ["hosts: '300.1.1.1 x'", /"hosts": line 1 "300.1.1.1 x": "300.1.1.1" is not an IP address/],
    ["hosts: '10.0.0.1'", /no name after the address/],
    ["ttls: 5", /unknown key "ttls"/],
    ["[1, 2]", /must hold a mapping/],
    ["a: [", /not valid YAML or JSON/],
    ["kind: ConfigMap\ndata: {}", /no data key "config.yaml"/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseDnsConfig(text, "t.yaml", "/nonexistent/resolv.conf"), (err: unknown) => {
      assert.ok(err instanceof WeftError, text);
      assert.equal(err.code, DNS_CONFIG_INVALID);
      assert.match(err.message, message, text);
      return true;
    });
  }
  assert.throws(() => readDnsConfig("/nonexistent/weft-dns.yaml"), /cannot read DNS config file \/nonexistent\/weft-dns.yaml: no such file/);
});

test("upstream addresses", () => {
  assert.deepEqual(parseUpstream("192.0.2.1"), { host: "192.0.2.1", port: 53 });
  assert.deepEqual(parseUpstream("192.0.2.1:5353"), { host: "192.0.2.1", port: 5353 });
  assert.deepEqual(parseUpstream("2001:db8::1"), { host: "2001:db8::1", port: 53 });
  assert.deepEqual(parseUpstream("[2001:db8::1]:54"), { host: "2001:db8::1", port: 54 });
  assert.equal(parseUpstream("192.0.2.1:0"), null);
  assert.equal(parseUpstream("example.com:53"), null);
  assert.deepEqual(resolvConfUpstreams("/nonexistent"), []);
});
