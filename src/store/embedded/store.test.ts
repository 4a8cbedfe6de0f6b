// The embedded store's own cases: many processes at once, and the directory
// itself. The behaviour both stores share is tested in
// test/integration/store-conformance.test.ts.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { WeftError } from "../../lib/errors.ts";
import { STORE_UNAVAILABLE, type LeaseAttrs, type LeaseEvent } from "../types.ts";
import { writeVersion } from "./records.ts";
import { EmbeddedStore } from "./store.ts";
import { until } from "../../../test/support/until.ts";

const root = mkdtempSync(join(tmpdir(), "weft-embedded-"));
after(() => rmSync(root, { recursive: true, force: true }));

const attrs = (node: string): LeaseAttrs => ({ node, publicIp: "192.168.125.101", backend: "vxlan", backendData: {} });

// One racing agent: waits for the start signal, then tries every subnet in
// its own order and prints the ones it won.
const CHILD = `
import { existsSync } from "node:fs";
const { EmbeddedStore } = await import(process.env.STORE_MODULE);
const [dir, node, go, ...subnets] = process.argv.slice(1);
const store = new EmbeddedStore({ dir });
console.log("ready");
while (!existsSync(go)) await new Promise((r) => setTimeout(r, 2));
const order = subnets.map((s) => [Math.random(), s]).sort((a, b) => a[0] - b[0]).map(([, s]) => s);
const won = await Promise.all(order.map((s) =>
  store.createIfAbsent(s, { node, publicIp: "192.168.125.1", backend: "vxlan", backendData: {} }, 60)));
console.log(JSON.stringify(won.filter(Boolean).map((l) => l.subnet)));
`;

function runChild(dir: string, node: string, go: string, subnets: string[]): { ready: Promise<void>; won: Promise<string[]> } {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD, dir, node, go, ...subnets], {
    env: { ...process.env, STORE_MODULE: pathToFileURL(join(import.meta.dirname, "store.ts")).href },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    if (out.startsWith("ready\n")) onReady();
  });
  const won = new Promise<string[]>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => {
      onReady();
      if (code !== 0) return reject(new Error(`${node} exited ${code}: ${out}`));
      resolve(JSON.parse(out.split("\n")[1]!) as string[]);
    });
  });
  return { ready, won };
}

test("agent processes racing for the same subnets never both win, fresh or expired", async () => {
  const dir = join(root, "race");
  const fresh = Array.from({ length: 10 }, (_, i) => `10.244.${i}.0/24`);
  const expired = Array.from({ length: 10 }, (_, i) => `10.244.${100 + i}.0/24`);
  // Leases that ran out a minute ago: every racer sees them free at once and
  // tries to take them over.
  for (const subnet of expired) {
    assert.ok(await writeVersion(dir, subnet, 1, { subnet, attrs: attrs("old"), expiresAt: Date.now() - 60_000 }));
  }
  const go = join(root, "race-go");
  const children = Array.from({ length: 6 }, (_, i) => runChild(dir, `node${i}`, go, [...fresh, ...expired]));
  await Promise.all(children.map((c) => c.ready));
  writeFileSync(go, "");
  const results = await Promise.all(children.map((c) => c.won));

  const winners = new Map<string, string[]>();
  results.forEach((won, i) => won.forEach((s) => winners.set(s, [...(winners.get(s) ?? []), `node${i}`])));
  const store = new EmbeddedStore({ dir });
  for (const subnet of [...fresh, ...expired]) {
    const who = winners.get(subnet) ?? [];
    assert.equal(who.length, 1, `${subnet} won by ${who.join(", ") || "nobody"}`);
    assert.equal((await store.get(subnet))?.attrs.node, who[0], `${subnet} is held by its winner`);
  }
  assert.equal((await store.list()).length, 20);
  await store.close();
});

test("a watch started before the directory exists reports leases once it does", async () => {
  const dir = join(root, "later", "store");
  const store = new EmbeddedStore({ dir });
  const events: LeaseEvent[] = [];
  const stop = store.watch((e) => events.push(e));
  try {
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(!existsSync(dir));
    await store.createIfAbsent("10.244.7.0/24", attrs("n1"), 60);
    await until("a watch event", () => events.length > 0, 2_000);
    assert.deepEqual(events.map((e) => e.type), ["put"]);
  } finally {
    stop();
    await store.close();
  }
});

test("an unusable directory fails every call, and the watch, with STORE_UNAVAILABLE naming it", async () => {
  const file = join(root, "not-a-dir");
  writeFileSync(file, "");
  const dir = join(file, "store");
  const store = new EmbeddedStore({ dir });
  const errors: WeftError[] = [];
  const stop = store.watch(() => assert.fail("no events expected"), (err) => errors.push(err));
  try {
    const check = { code: STORE_UNAVAILABLE, message: `embedded store ${dir} is unusable: ENOTDIR` };
    await assert.rejects(store.createIfAbsent("10.244.7.0/24", attrs("n1"), 60), check);
    await assert.rejects(store.renew("10.244.7.0/24", attrs("n1"), 60), check);
    await assert.rejects(store.list(), check);
    await until("a watch error", () => errors.length > 0, 2_000);
    assert.equal(errors[0]!.code, STORE_UNAVAILABLE);
    assert.match(errors[0]!.describe(), /unusable: ENOTDIR; make sure the directory/);
  } finally {
    stop();
    await store.close();
  }
});

