/**
 * Hostile input to the plugin (issue 17): a damaged IPAM store, a `bridge`
 * that is not a bridge, a malformed prevResult, a CNI_NETNS that is not a
 * network namespace, a subnet file whose gateway cannot be one, DEL and
 * STATUS around a missing or read-only dataDir, and the CNI_* values a
 * verb does not use. Each case runs on a fresh node namespace and checks
 * the answer and that nothing changed: the node's links, addresses and
 * forwarding, the pod's links, and the IPAM store's bytes.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cniEnv, PluginFiles, runPlugin, runPluginReadOnly, type PluginRun } from "../support/cni.ts";
import { ipIn, Namespaces, runIn } from "../support/netns.ts";

/** One 512-byte record of the store file. */
const rec = (line: string) => `${line.padEnd(511)}\n`;
/** Three pods at .2, .3 and .4 of 10.244.50.0/24; the cursor on .2, so the next ADD looks at .3 first. */
const STORE = rec("weft-ipam 2 last=10.244.50.2") + rec("10.244.50.2 a eth0 default/a") + rec("10.244.50.3 b eth0 default/b") + rec("10.244.50.4 c eth0 default/c");
const R = 512;

interface Ctx {
  node: string;
  pod: string;
  netns: string;
  files: PluginFiles;
  /** The store's file (network "weft"). */
  store: string;
}

interface Case {
  name: string;
  /** What the plugin must answer: 0 for success, else the CNI error code. */
  code: number;
  msg?: RegExp;
  details?: RegExp;
  env?: (c: Ctx) => Record<string, string>;
  /** Config fields over the defaults (cniVersion 1.0.0), or the whole stdin. */
  conf?: (c: Ctx) => Record<string, unknown>;
  stdin?: (c: Ctx) => string;
  setup?: (c: Ctx) => void;
  /** Run with the IPAM dataDir bind-mounted read-only (in a mount namespace of the plugin's own). */
  readOnly?: boolean;
  check?: (c: Ctx, r: PluginRun) => void;
}

const store = (text: string) => (c: Ctx) => {
  mkdirSync(join(c.files.dataDir, "weft"), { recursive: true });
  writeFileSync(c.store, text);
};
const withPrev = (version: string, prevResult: unknown) => (c: Ctx) => JSON.stringify(c.files.config(version, { prevResult }));
const subnet = (s: string) => (c: Ctx) => c.files.writeSubnet(s);
/** What a libcni runtime sets for VERSION (GetVersionInfo). */
const DUMMY = { CNI_COMMAND: "VERSION", CNI_CONTAINERID: "dummy", CNI_NETNS: "dummy", CNI_IFNAME: "dummy", CNI_PATH: "dummy" };

const cases: Case[] = [
  // 2: ADD and DEL rely on the record boundaries and on every record's address.
  { name: "ADD, a padding byte deleted in record 1", code: 102, msg: /IPAM store .*addresses is not valid: record 1 /, details: /no address was handed out.*511/, setup: store(STORE.slice(0, R + 300) + STORE.slice(R + 301)) },
  { name: "ADD, a byte inserted in record 2", code: 102, msg: /record 2 /, setup: store(STORE.slice(0, 2 * R + 100) + " " + STORE.slice(2 * R + 100)) },
  { name: "ADD, a live record's first character turned into a space", code: 102, msg: /record 2 /, setup: store(STORE.slice(0, 2 * R) + " " + STORE.slice(2 * R + 1)) },
  { name: "ADD, a live record's address mangled", code: 102, msg: /record 2 /, setup: store(STORE.replace("10.244.50.3 b", "10.244.5x.3 b")) },
  { name: "ADD, two records holding one address", code: 102, msg: /records 2 and 3 both hold 10\.244\.50\.3/, setup: store(STORE.replace("10.244.50.4 c", "10.244.50.3 c")) },
  { name: "ADD, the last record cut short", code: 102, msg: /record 3 /, setup: store(STORE.slice(0, -1)) },
  { name: "ADD, a newline in a free record", code: 102, msg: /record 2 /, setup: store(STORE.slice(0, 2 * R) + rec("").slice(0, 100) + "\n" + rec("").slice(101) + STORE.slice(3 * R)) },
  { name: "DEL, a padding byte deleted in record 1", code: 102, msg: /record 1 /, env: (c) => cniEnv("DEL", "c", c.netns), setup: store(STORE.slice(0, R + 300) + STORE.slice(R + 301)) },

  // 4: an existing link named by `bridge` that is not a bridge.
  { name: "bridge lo", code: 7, msg: /bridge "lo" is not a bridge: it is the loopback device/, conf: () => ({ bridge: "lo" }) },
  { name: "bridge a vxlan link", code: 7, msg: /bridge "vxl0" is not a bridge: it is a vxlan link/, conf: () => ({ bridge: "vxl0" }), setup: (c) => void ipIn(c.node, "link", "add", "vxl0", "type", "vxlan", "id", "42", "dstport", "4789") },
  { name: "bridge a veth", code: 7, msg: /bridge "vx0" is not a bridge: it is a veth link/, conf: () => ({ bridge: "vx0" }), setup: (c) => void ipIn(c.node, "link", "add", "vx0", "type", "veth", "peer", "name", "vx1") },

  // 5: prevResult and dns are validated with the rest of the configuration.
  { name: "prevResult interfaces [null] (1.0.0)", code: 7, msg: /prevResult\.interfaces\[0\]=null must be an object/, stdin: withPrev("1.0.0", { interfaces: [null] }) },
  { name: "prevResult ips [{}] (0.4.0)", code: 7, msg: /prevResult\.ips\[0\]\.address=undefined|prevResult\.ips\[0\]\.address is missing/, stdin: withPrev("0.4.0", { ips: [{}] }) },
  { name: "prevResult ips [null] (1.1.0)", code: 7, msg: /prevResult\.ips\[0\]=null must be an object/, stdin: withPrev("1.1.0", { ips: [null] }) },
  { name: "prevResult interfaces \"x\", dns \"str\"", code: 7, msg: /prevResult\.interfaces="x" must be a list/, stdin: withPrev("1.0.0", { interfaces: "x", dns: "str" }) },
  { name: "prevResult dns \"str\"", code: 7, msg: /prevResult\.dns="str" must be an object/, stdin: withPrev("1.0.0", { dns: "str" }) },
  { name: "prevResult ip on an interface it does not list", code: 7, msg: /prevResult\.ips\[0\]\.interface=3 is not an index into prevResult\.interfaces/, stdin: withPrev("1.0.0", { interfaces: [], ips: [{ address: "10.1.1.2/24", interface: 3 }] }) },
  { name: "prevResult route without dst", code: 7, msg: /prevResult\.routes\[0\]\.dst/, stdin: withPrev("1.0.0", { routes: [{ gw: "10.1.1.1" }] }) },
  { name: "dns \"str\"", code: 7, msg: /dns="str" must be an object/, conf: () => ({ dns: "str" }) },
  {
    name: "CHECK, prevResult address \"abc\"",
    code: 7,
    msg: /prevResult\.ips\[0\]\.address="abc" is not an address\/prefix length/,
    env: (c) => cniEnv("CHECK", "k1", c.netns),
    stdin: (c) => JSON.stringify(c.files.config("1.0.0", { prevResult: { interfaces: [{ name: "eth0", sandbox: c.netns }], ips: [{ address: "abc", interface: 0 }] } })),
  },

  // 6 and 16: CNI_NETNS must be a network namespace, and not the node's own.
  { name: "CNI_NETNS a regular file", code: 4, msg: /CNI_NETNS .*\/plain is not a network namespace \(a regular file\)/, env: (c) => cniEnv("ADD", "n1", join(c.files.dir, "plain")), setup: (c) => writeFileSync(join(c.files.dir, "plain"), "x") },
  { name: "CNI_NETNS a directory", code: 4, msg: /is not a network namespace \(a directory\)/, env: (c) => cniEnv("ADD", "n1", c.files.dir) },
  { name: "CNI_NETNS /dev/null", code: 4, msg: /CNI_NETNS \/dev\/null is not a network namespace \(a character device\)/, env: () => cniEnv("ADD", "n1", "/dev/null") },
  { name: "CNI_NETNS a mount namespace", code: 4, msg: /CNI_NETNS \/proc\/self\/ns\/mnt is a mount namespace, not a network namespace/, env: () => cniEnv("ADD", "n1", "/proc/self/ns/mnt") },
  { name: "CNI_NETNS a FIFO (must not block)", code: 4, msg: /is not a network namespace \(a FIFO\)/, env: (c) => cniEnv("ADD", "n1", join(c.files.dir, "fifo")), setup: (c) => execFileSync("mkfifo", [join(c.files.dir, "fifo")]) },
  { name: "CNI_NETNS the node's own namespace", code: 4, msg: /CNI_NETNS \/run\/netns\/wch-\d+-n\d+ is the node's own network namespace/, env: (c) => cniEnv("ADD", "n1", `/run/netns/${c.node}`) },
  { name: "CHECK, CNI_NETNS a mount namespace", code: 4, msg: /is a mount namespace/, env: () => cniEnv("CHECK", "n1", "/proc/self/ns/mnt"), stdin: (c) => JSON.stringify(c.files.config("1.0.0", { prevResult: { interfaces: [{ name: "eth0", sandbox: "/proc/self/ns/mnt" }], ips: [{ address: "10.244.50.2/24", interface: 0 }] } })) },

  // 10: the subnet file's gateway must be a host address of its subnet.
  { name: "WEFT_SUBNET the network address", code: 7, msg: /malformed subnet file .*subnet\.env: WEFT_SUBNET=10\.244\.60\.0\/24 is the subnet's network address/, setup: subnet("10.244.60.0/24") },
  { name: "WEFT_SUBNET the broadcast address", code: 7, msg: /malformed subnet file .*subnet\.env: WEFT_SUBNET=10\.244\.61\.255\/24 is the subnet's broadcast address/, setup: subnet("10.244.61.255/24") },

  // 12: DEL makes no state, and succeeds where there is nothing to release.
  { name: "DEL, dataDir missing", code: 0, env: (c) => cniEnv("DEL", "d1", c.netns), check: (c) => assert.equal(existsSync(c.files.dataDir), false, "DEL made no store") },
  { name: "DEL of an attachment never added, dataDir read-only", code: 0, readOnly: true, env: (c) => cniEnv("DEL", "never", c.netns), setup: store(STORE) },
  { name: "DEL of an attachment never added, read-only dataDir without a store", code: 0, readOnly: true, env: (c) => cniEnv("DEL", "never", c.netns), setup: (c) => mkdirSync(c.files.dataDir) },
  { name: "DEL of a held address, dataDir read-only", code: 5, msg: /cannot release 10\.244\.50\.3 .*Read-only|EROFS/, readOnly: true, env: (c) => cniEnv("DEL", "b", c.netns), setup: store(STORE) },
  { name: "STATUS, dataDir read-only", code: 50, msg: /weft cannot add pods on this node: .*(read-only|EROFS)/, readOnly: true, env: () => ({ CNI_COMMAND: "STATUS" }), stdin: (c) => JSON.stringify(c.files.config("1.1.0")), setup: store(STORE) },
  { name: "STATUS, read-only dataDir without a store", code: 50, msg: /weft cannot add pods on this node: .*(read-only|EROFS)/, readOnly: true, env: () => ({ CNI_COMMAND: "STATUS" }), stdin: (c) => JSON.stringify(c.files.config("1.1.0")), setup: (c) => mkdirSync(c.files.dataDir) },
  { name: "STATUS, a damaged store", code: 50, msg: /weft cannot add pods on this node: IPAM store .* record 1 /, env: () => ({ CNI_COMMAND: "STATUS" }), stdin: (c) => JSON.stringify(c.files.config("1.1.0")), setup: store(STORE.slice(0, R + 300) + STORE.slice(R + 301)) },

  // 15: a verb reads only the CNI_* variables it uses.
  { name: "VERSION with libcni's dummy values", code: 0, env: () => DUMMY, stdin: () => JSON.stringify({ cniVersion: "1.0.0" }), check: (_c, r) => assert.equal(r.json?.cniVersion, "1.0.0") },
  { name: "VERSION with invalid values", code: 0, env: () => ({ ...DUMMY, CNI_CONTAINERID: ".bad", CNI_NETNS: "rel", CNI_IFNAME: "a/b", CNI_ARGS: "junk" }), stdin: () => "" },
  { name: "STATUS with dummy values", code: 0, env: () => ({ ...DUMMY, CNI_COMMAND: "STATUS", CNI_IFNAME: "a/b" }), stdin: (c) => JSON.stringify(c.files.config("1.1.0")) },
  { name: "GC with dummy values and no CNI_PATH", code: 0, env: () => ({ CNI_COMMAND: "GC", CNI_CONTAINERID: ".bad", CNI_NETNS: "dummy" }), stdin: (c) => JSON.stringify(c.files.config("1.1.0", { "cni.dev/valid-attachments": [] })) },
  { name: "DEL with a relative CNI_NETNS and no CNI_PATH", code: 0, env: () => ({ CNI_COMMAND: "DEL", CNI_CONTAINERID: "d2", CNI_IFNAME: "eth0", CNI_NETNS: "dummy" }) },

  // Never JavaScript's words: the JSON parser's message is not passed on.
  { name: "stdin not JSON", code: 6, msg: /network configuration on stdin is not valid JSON: it begins "\{not json" \(9 characters\)/, stdin: () => "{not json" },
  { name: "stdin empty (ADD)", code: 6, msg: /network configuration on stdin is empty/, stdin: () => "" },

  // 16: numbers JSON reads as infinite are named as such, not as null.
  { name: "mtu 1e400", code: 7, msg: /mtu=Infinity \(a number too large to represent\) must be an integer/, stdin: (c) => JSON.stringify(c.files.config("1.0.0")).replace(/}$/, ',"mtu":1e400}') },
  { name: "an unknown field -1e400", code: 2, msg: /unsupported field in network configuration: frob=-Infinity/, stdin: (c) => JSON.stringify(c.files.config("1.0.0")).replace(/}$/, ',"frob":-1e400}') },
];

/** Text no error message may contain: JavaScript's own words for a bug. */
const JS_TEXT = /TypeError|ReferenceError|RangeError|SyntaxError|JSON Parse error|Unexpected token|is not an object|is not a function|Cannot read propert|undefined is not an object|null is not an object/;

describe("CNI hostile input (issue 17)", () => {
  const ns = new Namespaces("wch");
  let n = 0;
  after(() => ns.removeAll());

  /** What a failed or idempotent call must leave as it found it. */
  function snapshot(c: Ctx): string {
    const names = (nsName: string) => ipIn(nsName, "-o", "link").split("\n").map((l) => l.split(": ")[1] ?? "").join(",");
    const fwd = runIn(c.node, ["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout.trim();
    const storeText = existsSync(c.store) ? readFileSync(c.store, "latin1") : "<no store>";
    return JSON.stringify({ links: names(c.node), addrs: ipIn(c.node, "-o", "addr"), fwd, pod: names(c.pod), dataDir: existsSync(c.files.dataDir), storeText });
  }

  for (const k of cases) {
    test(`${k.name} → ${k.code === 0 ? "success" : `code ${k.code}`}, nothing changed`, () => {
      const tag = `${++n}`;
      const files = new PluginFiles("10.244.50.1/24");
      const node = ns.add(`n${tag}`);
      const pod = ns.add(`p${tag}`);
      const c: Ctx = { node, pod, netns: `/run/netns/${pod}`, files, store: join(files.dataDir, "weft", "addresses") };
      try {
        k.setup?.(c);
        const before = snapshot(c);
        const env = k.env ? k.env(c) : cniEnv("ADD", "h1", c.netns);
        const stdin = k.stdin ? k.stdin(c) : JSON.stringify(files.config("1.0.0", k.conf?.(c)));
        const r = k.readOnly ? runPluginReadOnly(node, files.dataDir, env, stdin) : runPlugin(node, env, stdin);
        assert.notEqual(r.status, null, "the plugin answered (it did not block)");
        assert.equal(r.stderr, "", "nothing on stderr");
        if (k.code === 0) {
          assert.equal(r.status, 0, r.stdout);
        } else {
          assert.equal(r.status, 1, r.stdout);
          assert.equal(r.json?.code, k.code, r.stdout);
          assert.equal(typeof r.json?.cniVersion, "string");
          const msg = String(r.json?.msg);
          if (k.msg) assert.match(msg, k.msg);
          if (k.details) assert.match(String(r.json?.details), k.details);
          assert.doesNotMatch(msg, JS_TEXT);
        }
        assert.equal(snapshot(c), before, "nothing changed");
        k.check?.(c, r);
      } finally {
        files.remove();
      }
    });
  }

  describe("CNI_PATH is optional (the spec's rule; weft delegates to no plugin)", () => {
    const files = new PluginFiles("10.244.50.1/24");
    let node = "";
    let pod = "";
    before(() => {
      node = ns.add("pn");
      pod = ns.add("pp");
    });
    after(() => files.remove());
    test("ADD, CHECK and DEL without CNI_PATH", () => {
      const env = (verb: string) => {
        const e = cniEnv(verb, "p1", `/run/netns/${pod}`);
        delete (e as Partial<typeof e>).CNI_PATH;
        return e;
      };
      const conf = files.config("1.0.0");
      const added = runPlugin(node, env("ADD"), JSON.stringify(conf));
      assert.equal(added.status, 0, added.stdout);
      const checked = runPlugin(node, env("CHECK"), JSON.stringify({ ...conf, prevResult: added.json }));
      assert.equal(checked.status, 0, checked.stdout);
      const deleted = runPlugin(node, env("DEL"), JSON.stringify(conf));
      assert.equal(deleted.status, 0, deleted.stdout);
      assert.doesNotMatch(ipIn(pod, "-o", "link"), /eth0/);
    });
  });
});
