/**
 * Property: random sequences of ADD, DEL and GC on a real store (files in a
 * temporary directory), interleaved with random damage to its bytes, never
 * leave two live records holding one address; damage the store cannot be
 * trusted through is refused with IPAM_STORE_CORRUPT (CNI 102) and leaves
 * the file as it was; and while the store is whole it agrees with a model.
 *
 * The oracle is a reading of the format written here from its description
 * (src/ipam/records.ts), with regular expressions, apart from the store's
 * own parser:
 *   - layout: record 0 is the header; every record is 512 bytes, ending in
 *     its one newline, or 512 zeros; a free record is spaces; a live one
 *     begins with a dotted-quad address and a space; no address in two
 *     records; a last partial record is zeros or spaces;
 *   - whole: and every live record is exactly four printable words, one
 *     space apart, the last two %-decodable, then spaces.
 * ADD relies on the layout, so it must refuse a store whose layout is
 * broken; the full parse (DEL's record, GC, list) refuses one that is not
 * whole.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { IpamStore } from "./store.ts";
import { contains, formatIp, parseIp, parsePrefix } from "../lib/ipv4.ts";
import { nodeFiles } from "../sys/node-files.ts";

const R = 512;
const IP = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
const isIp = (s: string) => {
  const m = IP.exec(s);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255);
};

interface Reading {
  layout: boolean;
  whole: boolean;
  /** Live records' addresses (those the layout reading found), in record order. */
  addresses: string[];
  /** Live records as owner → address, when whole. */
  owners: Map<string, string>;
}

/** The oracle: the format read from its description. */
function read(text: string): Reading {
  const bad = { layout: false, whole: false, addresses: [], owners: new Map() };
  const header = text.slice(0, R);
  const h = /^weft-ipam 2( last=(\S+))? *\n$/.exec(header);
  if (header.length !== R || !h || (h[2] !== undefined && !isIp(h[2]))) return bad;
  const addresses: string[] = [];
  const owners = new Map<string, string>();
  let whole = true;
  for (let at = R; at < text.length; at += R) {
    const r = text.slice(at, at + R);
    if (r.length < R) {
      if (!/^(\u0000*| *)$/.test(r)) return bad;
      break;
    }
    if (/^\u0000{512}$/.test(r) || /^ {511}\n$/.test(r)) continue;
    const m = /^(\S+) [^\n]*\n$/.exec(r);
    if (!m || !isIp(m[1]!) || addresses.includes(m[1]!)) return bad;
    addresses.push(m[1]!);
    const w = /^(\S+) ([!-~]+) ([!-~]+) ([!-~]+) *\n$/.exec(r);
    let decoded = w !== null && !/[^!-~]/.test(`${w[2]}${w[3]}${w[4]}`);
    try {
      if (w) decodeURIComponent(w[3]!), decodeURIComponent(w[4]!);
    } catch {
      decoded = false;
    }
    if (!decoded) whole = false;
    else owners.set(`${w![2]}/${decodeURIComponent(w![3]!)}`, m[1]!);
  }
  return { layout: true, whole, addresses, owners };
}

const subnet = parsePrefix("10.244.7.0/28"); // .1 the gateway, .2-.14 for pods: small enough to run out
const gateway = parseIp("10.244.7.1");

type Op =
  | { kind: "add"; pod: number; ifname: string }
  | { kind: "del"; pod: number; ifname: string }
  | { kind: "gc"; keep: number[] }
  | { kind: "damage"; how: "delete" | "insert" | "replace" | "truncate" | "append"; at: number; byte: number; count: number };

const IFNAMES = ["eth0", "net1", "é0"];
const ownerOf = (pod: number, ifname: string) => ({ containerId: `pod${pod}`, ifname, pod: `default/p${pod}` });

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant("add" as const), pod: fc.nat(20), ifname: fc.constantFrom(...IFNAMES) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("del" as const), pod: fc.nat(20), ifname: fc.constantFrom(...IFNAMES) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("gc" as const), keep: fc.array(fc.nat(20), { maxLength: 10 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("damage" as const),
      how: fc.constantFrom("delete" as const, "insert" as const, "replace" as const, "truncate" as const, "append" as const),
      at: fc.nat(),
      // Bytes a disk or an editor would leave: anything, with the format's own characters likelier.
      byte: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x20, 0x0a, 0x00, 0x2e, 0x31, 0x30, 0x2d, 0x25)),
      count: fc.integer({ min: 1, max: 3 }),
    }),
  },
);

function damage(text: string, d: Extract<Op, { kind: "damage" }>): string {
  const at = text.length === 0 ? 0 : d.at % text.length;
  const b = String.fromCharCode(d.byte).repeat(d.count);
  switch (d.how) {
    case "delete":
      return text.slice(0, at) + text.slice(at + d.count);
    case "insert":
      return text.slice(0, at) + b + text.slice(at);
    case "replace":
      return text.slice(0, at) + b + text.slice(at + d.count);
    case "truncate":
      return text.slice(0, at);
    case "append":
      return text + b;
  }
}

const corrupt = (e: unknown) => (e as { code?: string }).code === "IPAM_STORE_CORRUPT" && /^IPAM store .* is not valid: record/.test((e as Error).message);

/** Runs `f`; returns its value, or the error it threw. */
function attempt<T>(f: () => T): { ok: true; value: T } | { ok: false; error: unknown } {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
}

test("IPAM store: random ADD/DEL/GC with random damage never hold one address twice; damage is refused with 102", (t) => {
  const root = mkdtempSync(join(tmpdir(), "weft-ipam-prop-"));
  const counts = { add: 0, del: 0, gc: 0, damage: 0, layoutBroken: 0, notWhole: 0, stillWhole: 0, exhausted: 0 };
  let run = 0;
  try {
    const property = fc.property(fc.array(op, { minLength: 1, maxLength: 60, size: "max" }), (ops) => {
      const dir = join(root, `${run++}`);
      mkdirSync(dir);
      const lock = (path: string) => {
        writeFileSync(path, "", { flag: "a" });
        return () => {};
      };
      const s = new IpamStore(dir, "weft", nodeFiles, lock);
      const file = () => (existsSync(s.file) ? readFileSync(s.file, "latin1") : "");
      /** owner key → address, as the store must hold it. */
      let model = new Map<string, string>();
      for (const o of ops) {
        if (o.kind === "damage") {
          counts.damage++;
          const before = file();
          if (before === "") continue;
          const after = damage(before, o);
          writeFileSync(s.file, after, "latin1");
          const r = read(after);
          if (!r.layout) {
            counts.layoutBroken++;
            // Everything refuses, and changes nothing.
            const calls: Array<() => unknown> = [() => s.allocate(subnet, gateway, ownerOf(99, "eth0")), () => s.release(ownerOf(0, "eth0")), () => s.releaseAllExcept([]), () => s.list()];
            for (const call of calls) {
              const got = attempt(call);
              assert.ok(!got.ok && corrupt(got.error), `refused with 102: ${got.ok ? "it succeeded" : String(got.error)}`);
            }
            assert.equal(file(), after, "a refused call changed nothing");
          } else if (!r.whole) {
            counts.notWhole++;
            const calls: Array<() => unknown> = [() => s.releaseAllExcept([]), () => s.list()];
            for (const call of calls) {
              const got = attempt(call);
              assert.ok(!got.ok && corrupt(got.error), `refused with 102: ${got.ok ? "it succeeded" : String(got.error)}`);
            }
            assert.equal(file(), after);
            // ADD relies on the layout only: it may go on, but never takes a held address or a live record.
            const got = attempt(() => s.allocate(subnet, gateway, ownerOf(98, "eth0")));
            const now = file();
            if (got.ok) {
              const r2 = read(now);
              assert.ok(r2.layout, "ADD kept the layout");
              assert.equal(new Set(r2.addresses).size, r2.addresses.length);
              for (const a of r.addresses) assert.ok(r2.addresses.includes(a), `ADD kept ${a}`);
              for (let at = R; at < after.length; at += R) {
                const old = after.slice(at, at + R);
                if (!/^( {511}\n|\u0000{512})$/.test(old) && old.length === R) assert.equal(now.slice(at, at + R), old, `ADD left record ${at / R} alone`);
              }
            } else {
              assert.ok(corrupt(got.error) || (got.error as { code?: string }).code === "IPAM_EXHAUSTED", String(got.error));
              assert.equal(now, after);
            }
          } else if (r.whole) {
            // Damage that still reads as a store (a digit changed into another free address, say) cannot be told from an edit: it is the store now.
            counts.stillWhole++;
            model = new Map(r.owners);
            continue;
          }
          // The operator repairs the file, as the error says.
          writeFileSync(s.file, before, "latin1");
          continue;
        }
        if (o.kind === "add") {
          counts.add++;
          const owner = ownerOf(o.pod, o.ifname);
          const key = `${owner.containerId}/${owner.ifname}`;
          const got = attempt(() => s.allocate(subnet, gateway, owner));
          if (got.ok) {
            const ip = formatIp(got.value.ip);
            // An address the owner holds outside the subnet (damage made one) is replaced by a fresh one.
            const holds = model.has(key) && contains(subnet, parseIp(model.get(key)!));
            assert.equal(got.value.fresh, !holds);
            if (holds) assert.equal(ip, model.get(key));
            else assert.ok(![...model.values()].includes(ip), `${ip} was free`);
            model.set(key, ip);
          } else {
            assert.equal((got.error as { code?: string }).code, "IPAM_EXHAUSTED", String(got.error));
            // Exhausted means every pod address of the subnet is held; damage may have left a record outside it.
            assert.ok(!model.has(key) && [...model.values()].filter((ip) => contains(subnet, parseIp(ip))).length === 13, JSON.stringify([...model]));
            counts.exhausted++;
          }
        } else if (o.kind === "del") {
          counts.del++;
          const owner = ownerOf(o.pod, o.ifname);
          const key = `${owner.containerId}/${owner.ifname}`;
          assert.deepEqual(s.release(owner), model.has(key) ? [model.get(key)] : []);
          model.delete(key);
        } else {
          counts.gc++;
          const keep = o.keep.map((p) => ownerOf(p, "eth0"));
          s.releaseAllExcept(keep);
          for (const k of [...model.keys()]) if (!keep.some((w) => `${w.containerId}/${w.ifname}` === k)) model.delete(k);
        }
        const r = read(file());
        assert.ok(file() === "" || r.whole, "weft's own writes leave a whole store");
        assert.equal(new Set(r.addresses).size, r.addresses.length, "no address in two records");
        assert.deepEqual(new Map(s.list().map((a) => [`${a.containerId}/${a.ifname}`, a.ip])), model);
      }
      rmSync(dir, { recursive: true, force: true });
    });
    // WEFT_PROPERTY_SEED and WEFT_PROPERTY_PATH replay a failure fast-check reported.
    const replay = process.env.WEFT_PROPERTY_SEED ? { seed: Number(process.env.WEFT_PROPERTY_SEED), path: process.env.WEFT_PROPERTY_PATH ?? "", endOnFailure: true } : {};
    const out = fc.check(property, { numRuns: Number(process.env.WEFT_PROPERTY_RUNS ?? 300), ...replay });
    assert.ok(!out.failed, `${fc.defaultReportMessage(out)}\n${out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance)}`);
    t.diagnostic(`${out.numRuns} generated sequences; operations: ${JSON.stringify(counts)}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
