/**
 * Properties of the agent's configuration parsing (issue 17):
 * - any text read as a config file gives options of the right kinds, or
 *   AGENT_CONFIG_INVALID naming the file; never a JavaScript error;
 * - a number is reported as the file spells it (1e400, not null);
 * - any command line gives a configuration that validates to itself and
 *   keeps the rules (absolute paths, no loopback underlay, node subnets
 *   inside the cluster CIDR), or one WeftError of one line.
 * WEFT_PROPERTY_RUNS sets the number of generated cases per property.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { configFromArgs } from "../cli/commands/agent.ts";
import { WeftError } from "../lib/errors.ts";
import { parsePrefix } from "../lib/ipv4.ts";
import { AGENT_CONFIG_INVALID, CONFIG_KEYS, flagOf, parseConfigText, validateConfig, type AgentConfig } from "./config.ts";

const RUNS = Number(process.env.WEFT_PROPERTY_RUNS ?? 3000);
const PATH = "/etc/weft/agent.json";
const KEYS = Object.keys(CONFIG_KEYS) as (keyof AgentConfig)[];

/** Number literals as a file may spell them, valid JSON all: huge, tiny, negative, fractional, exponents. */
const numberLiteral = fc.oneof(
  fc.integer({ min: -100000, max: 100000 }).map(String),
  fc.constantFrom("1e400", "-1e400", "1E2", "1e-400", "-0", "0.0", "24.0", "9007199254740993", "99999999999999999999", "2.5", "1e21", "4294967296"),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: -500, max: 500 })).map(([m, e]) => `${m}e${e}`),
);
/** A value's JSON text: any JSON value, or a number literal as written. */
const valueText = fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v)), numberLiteral, fc.constantFrom('"10.244.0.0/16"', '["eth0"]', "true", '""', "[]", '[""]'));
const keyText = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...KEYS) }, { weight: 1, arbitrary: fc.string() });
/** Config file texts: objects of known (and some unknown) keys, and any text at all. */
const fileText = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.tuple(keyText, valueText), { maxLength: 6 }).map((es) => `{${es.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(", ")}}`) },
  { weight: 1, arbitrary: fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v))) },
);

function kindHolds(kind: string, v: unknown): boolean {
  switch (kind) {
    case "string":
    case "optString":
      return typeof v === "string" && v !== "";
    case "strings":
      return Array.isArray(v) && v.every((s) => typeof s === "string" && s !== "");
    case "integer":
    case "optInteger":
      return Number.isSafeInteger(v);
    default:
      return typeof v === "boolean";
  }
}

test("config file: options of the right kinds or AGENT_CONFIG_INVALID naming the file, for any text", (t) => {
  let accepted = 0;
  const out = fc.check(
    fc.property(fileText, (text) => {
      let parsed: Partial<AgentConfig>;
      try {
        parsed = parseConfigText(text, PATH);
      } catch (err) {
        assert.ok(err instanceof WeftError, `not a WeftError: ${String(err)}`);
        assert.equal(err.code, AGENT_CONFIG_INVALID);
        assert.match(err.message, /^(cannot read )?config file \/etc\/weft\/agent\.json/);
        assert.ok(!err.describe().includes("\n"), "one line");
        return;
      }
      accepted++;
      for (const [k, v] of Object.entries(parsed)) {
        assert.ok(Object.hasOwn(CONFIG_KEYS, k), `unknown key ${k} accepted`);
        assert.ok(kindHolds(CONFIG_KEYS[k as keyof AgentConfig], v), `${k}: ${JSON.stringify(v)}`);
      }
    }),
    { numRuns: RUNS },
  );
  assert.ok(!out.failed, fc.defaultReportMessage(out));
  t.diagnostic(`${out.numRuns} generated files, ${accepted} of them accepted`);
});

test("config file: an integer key's number is the integer it spells, or an error quoting it as spelled", (t) => {
  const intKeys = KEYS.filter((k) => CONFIG_KEYS[k] === "integer" || CONFIG_KEYS[k] === "optInteger");
  let refused = 0;
  const out = fc.check(
    fc.property(fc.constantFrom(...intKeys), numberLiteral, (key, literal) => {
      let parsed: Partial<AgentConfig>;
      try {
        parsed = parseConfigText(`{"${key}": ${literal}}`, PATH);
      } catch (err) {
        refused++;
        assert.ok(err instanceof WeftError);
        assert.ok(err.message.includes(`"${key}" is ${literal}: expected an integer`), err.message);
        assert.ok(!Number.isSafeInteger(Number(literal)));
        return;
      }
      assert.equal(parsed[key], Number(literal));
      assert.ok(Number.isSafeInteger(parsed[key]));
    }),
    { numRuns: RUNS },
  );
  assert.ok(!out.failed, fc.defaultReportMessage(out));
  t.diagnostic(`${out.numRuns} generated numbers, ${refused} of them refused`);
});

/** Values a hostile command line may give a flag. */
const flagValue = fc.oneof(
  fc.integer({ min: -70000, max: 70000 }).map(String),
  fc.constantFrom("0", "-1", "1e3", "99999999999999999999", "24", "26", "1450", "9000", "576"),
  fc.constantFrom("10.244.0.0/16", "10.244.0.0/24", "192.168.200.0/24", "10.244.1.0/16", "0.0.0.0/0", "10.0.0.0/8", "10.244.0.0/33"),
  fc.constantFrom("127.0.0.1", "127.5.5.5", "0.0.0.0", "224.0.0.1", "255.255.255.255", "192.168.125.101", "10.244.3.0", "10.0.0"),
  fc.constantFrom("/run/weft", "run", "./x", "/proc/qa", "", "../lib", "/var/lib/weft/store"),
  fc.constantFrom("vxlan", "host-gw", "ipip", "embedded", "etcd", "http://10.0.0.5:2379", "etcd:2379", "lo", "eth0", "node-1", "a b"),
  fc.string(),
);
const flag = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...KEYS.filter((k) => k !== "ipMasq")).map(flagOf) },
  { weight: 1, arbitrary: fc.constantFrom("--ip-masq", "--no-ip-masq", "--bogus", "--config") },
);
const argv = fc.array(fc.tuple(flag, flagValue), { maxLength: 6 }).map((pairs) => pairs.flatMap(([f, v]) => (f === "--ip-masq" || f === "--no-ip-masq" ? [f] : [f, v])));

test("command line: a configuration that keeps the rules, or one WeftError of one line, for any flags", (t) => {
  let accepted = 0;
  const out = fc.check(
    fc.property(argv, (args) => {
      let config: AgentConfig;
      try {
        config = configFromArgs(args).config;
      } catch (err) {
        assert.ok(err instanceof WeftError, `not a WeftError for ${JSON.stringify(args)}: ${String(err)}`);
        assert.ok(!err.describe().includes("\n"), `more than one line: ${err.describe()}`);
        return;
      }
      accepted++;
      assert.deepEqual(validateConfig(config), config, "validates to itself");
      for (const p of [config.runDir, config.stateDir, config.storeDir]) assert.ok(p.startsWith("/"), p);
      for (const ip of [config.publicIp, config.ifaceCanReach]) if (ip !== undefined) assert.ok(!ip.startsWith("127.") && ip !== "0.0.0.0", ip);
      assert.ok(config.subnetLen > parsePrefix(config.podCidr).len && config.subnetLen <= 30);
      if (config.mtu !== undefined) assert.ok(config.mtu >= 576 && config.mtu <= 65535);
    }),
    { numRuns: RUNS },
  );
  assert.ok(!out.failed, fc.defaultReportMessage(out));
  t.diagnostic(`${out.numRuns} generated command lines, ${accepted} of them accepted`);
});
