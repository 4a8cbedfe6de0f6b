// What every subnet store must do, run against each real implementation:
// the embedded store on a temporary directory, and the etcd store against an
// etcd this file starts on loopback. Every case works in its own area (a
// fresh directory or key prefix), so the cases of one store run at once.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedStore } from "../../src/store/embedded/store.ts";
import { freePort, startLocalEtcd, type LocalEtcd } from "../../src/store/etcd/server.ts";
import { EtcdStore } from "../../src/store/etcd/store.ts";
import { LEASE_LOST, STORE_CLOSED, type LeaseAttrs, type LeaseEvent, type SubnetStore } from "../../src/store/types.ts";
import { sleep } from "../../src/lib/sleep.ts";
import { until } from "../support/until.ts";

interface Implementation {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** A fresh, empty area of the store; returns a function opening a store (one "agent") on it. */
  area(): () => SubnetStore;
}

const tmp = mkdtempSync(join(tmpdir(), "weft-store-conformance-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
let areas = 0;

let etcd: LocalEtcd | undefined;
const implementations: Implementation[] = [
  {
    name: "embedded",
    start: async () => undefined,
    stop: async () => undefined,
    area: () => {
      const dir = join(tmp, `embedded-${++areas}`);
      return () => new EmbeddedStore({ dir });
    },
  },
  {
    name: "etcd",
    start: async () => {
      etcd = await startLocalEtcd({ dataDir: join(tmp, "etcd"), clientPort: await freePort(), peerPort: await freePort() });
    },
    stop: async () => etcd?.stop(),
    area: () => {
      const prefix = `/weft-test/${++areas}/subnets/`;
      return () => new EtcdStore({ endpoints: [etcd!.endpoint], prefix, timeoutMs: 2_000 });
    },
  },
];

const attrs = (node: string, publicIp = "192.168.125.101"): LeaseAttrs =>
  ({ node, publicIp, backend: "vxlan", backendData: { vtepMac: "02:42:c0:a8:7d:65" } });

/** Opens stores on a fresh area and closes them all (and their watches) afterwards, pass or fail. */
async function withArea(impl: Implementation, body: (open: () => SubnetStore) => Promise<void>): Promise<void> {
  const openOn = impl.area();
  const opened: SubnetStore[] = [];
  try {
    await body(() => {
      const s = openOn();
      opened.push(s);
      return s;
    });
  } finally {
    await Promise.all(opened.map((s) => s.close()));
  }
}

/** Collects a watch's events; `next` waits for the following one. */
function recorder(store: SubnetStore): { events: LeaseEvent[]; next(ms?: number): Promise<LeaseEvent>; stop(): void } {
  const events: LeaseEvent[] = [];
  let taken = 0;
  const stop = store.watch((e) => events.push(e));
  return {
    events,
    stop,
    next: async (ms = 5_000) => {
      await until("the next watch event", () => events.length > taken, ms);
      return events[taken++]!;
    },
  };
}


for (const impl of implementations) {
  describe(`${impl.name} store`, { concurrency: true }, () => {
    before(() => impl.start());
    after(() => impl.stop());

    test("the first createIfAbsent wins, later ones get undefined; get and list show the lease", () => withArea(impl, async (open) => {
      const a = open();
      const b = open();
      const lease = await a.createIfAbsent("10.244.1.0/24", attrs("a"), 60);
      assert.equal(lease?.subnet, "10.244.1.0/24");
      assert.deepEqual(lease?.attrs, attrs("a"));
      assert.ok(lease!.expiresAt > Date.now() + 50_000);
      assert.equal(await b.createIfAbsent("10.244.1.0/24", attrs("b"), 60), undefined);
      assert.equal(await a.createIfAbsent("10.244.1.0/24", attrs("a"), 60), undefined, "even for its holder");
      assert.deepEqual(await b.get("10.244.1.0/24"), lease);
      assert.equal(await b.get("10.244.2.0/24"), undefined);
      await b.createIfAbsent("10.244.10.0/24", attrs("b"), 60);
      await b.createIfAbsent("10.244.2.0/24", attrs("b"), 60);
      assert.deepEqual((await a.list()).map((l) => `${l.subnet} ${l.attrs.node}`),
        ["10.244.1.0/24 a", "10.244.2.0/24 b", "10.244.10.0/24 b"]);
    }));

    test("of many concurrent createIfAbsent calls exactly one wins", () => withArea(impl, async (open) => {
      const agents = Array.from({ length: 16 }, () => open());
      const results = await Promise.all(agents.map((s, i) => s.createIfAbsent("10.244.5.0/24", attrs(`n${i}`), 60)));
      const winners = results.flatMap((l) => (l ? [l.attrs.node] : []));
      assert.equal(winners.length, 1, `winners: ${winners.join(", ")}`);
      assert.equal((await agents[0]!.get("10.244.5.0/24"))?.attrs.node, winners[0]);
      assert.equal((await agents[0]!.list()).length, 1);
    }));

    test("an expired lease leaves list, is reported deleted, can't be renewed and can be leased again", () => withArea(impl, async (open) => {
      const a = open();
      const watcher = recorder(open());
      await a.createIfAbsent("10.244.6.0/24", attrs("a"), 2);
      assert.equal((await watcher.next()).type, "put");
      const started = Date.now();
      assert.deepEqual(await watcher.next(6_000), { type: "delete", subnet: "10.244.6.0/24" });
      assert.ok(Date.now() - started > 1_000, "not before its TTL");
      assert.deepEqual(await a.list(), []);
      assert.equal(await a.get("10.244.6.0/24"), undefined);
      await assert.rejects(a.renew("10.244.6.0/24", attrs("a"), 2), { code: LEASE_LOST });
      assert.equal((await open().createIfAbsent("10.244.6.0/24", attrs("b"), 60))?.attrs.node, "b");
    }));

    test("renew keeps a lease alive past its TTL and updates its attrs", () => withArea(impl, async (open) => {
      const a = open();
      const watcher = recorder(open());
      await a.createIfAbsent("10.244.7.0/24", attrs("a"), 2);
      assert.equal((await watcher.next()).type, "put");
      for (let i = 0; i < 5; i++) {
        await sleep(700);
        const renewed = await a.renew("10.244.7.0/24", attrs("a", `192.168.125.${110 + i}`), 2);
        assert.ok(renewed.expiresAt > Date.now() + 1_000);
      }
      // 3.5 s after a 2 s lease began, it is still there, with the last attrs.
      assert.equal((await a.get("10.244.7.0/24"))?.attrs.publicIp, "192.168.125.114");
      assert.equal(await open().createIfAbsent("10.244.7.0/24", attrs("b"), 2), undefined);
      await until("the renewal with a new address", () => watcher.events.some((e) => e.type === "put" && e.lease.attrs.publicIp === "192.168.125.114"), 2_000);
      assert.ok(watcher.events.every((e) => e.type === "put"), "never reported gone");
    }));

    test("renewing a lease that is gone or someone else's is LEASE_LOST", () => withArea(impl, async (open) => {
      const a = open();
      await assert.rejects(a.renew("10.244.8.0/24", attrs("a"), 60), { code: LEASE_LOST });
      await a.createIfAbsent("10.244.8.0/24", attrs("a"), 60);
      await assert.rejects(open().renew("10.244.8.0/24", attrs("b"), 60), {
        code: LEASE_LOST,
        message: "node b lost its lease on 10.244.8.0/24: node a holds it",
      });
      await a.release("10.244.8.0/24", "a");
      await assert.rejects(a.renew("10.244.8.0/24", attrs("a"), 60), { code: LEASE_LOST });
    }));

    test("a restarted agent renews the lease it held, with a new TTL", () => withArea(impl, async (open) => {
      const before = open();
      await before.createIfAbsent("10.244.9.0/24", attrs("a"), 60);
      await before.close();
      const renewed = await open().renew("10.244.9.0/24", attrs("a"), 120);
      assert.ok(renewed.expiresAt > Date.now() + 100_000);
      assert.equal((await open().get("10.244.9.0/24"))?.attrs.node, "a");
    }));

    test("release is idempotent and leaves other nodes' leases alone", () => withArea(impl, async (open) => {
      const a = open();
      await a.createIfAbsent("10.244.11.0/24", attrs("a"), 60);
      await a.release("10.244.11.0/24", "b");
      assert.equal((await a.get("10.244.11.0/24"))?.attrs.node, "a");
      await a.release("10.244.11.0/24", "a");
      await a.release("10.244.11.0/24", "a");
      await a.release("10.244.12.0/24", "a");
      assert.equal(await a.get("10.244.11.0/24"), undefined);
      assert.ok(await open().createIfAbsent("10.244.11.0/24", attrs("b"), 60));
    }));

    test("watch: the current leases first, then puts and deletes as they happen, until stopped", () => withArea(impl, async (open) => {
      const a = open();
      await a.createIfAbsent("10.244.1.0/24", attrs("a"), 60);
      const watcher = recorder(open());
      assert.equal(((await watcher.next()) as { lease: { subnet: string } }).lease.subnet, "10.244.1.0/24");

      const created = await a.createIfAbsent("10.244.2.0/24", attrs("a"), 60);
      let since = Date.now();
      assert.deepEqual(await watcher.next(), { type: "put", lease: created });
      assert.ok(Date.now() - since < 500, `put after ${Date.now() - since} ms`);

      await a.release("10.244.1.0/24", "a");
      since = Date.now();
      assert.deepEqual(await watcher.next(), { type: "delete", subnet: "10.244.1.0/24" });
      assert.ok(Date.now() - since < 500, `delete after ${Date.now() - since} ms`);

      watcher.stop();
      watcher.stop();
      await a.createIfAbsent("10.244.3.0/24", attrs("a"), 60);
      await sleep(400);
      assert.equal(watcher.events.length, 3, "nothing after stop");
    }));

    test("bad input is refused before the store is touched", () => withArea(impl, async (open) => {
      const a = open();
      await assert.rejects(a.createIfAbsent("10.244.1.1/24", attrs("a"), 60), { code: "INVALID_CIDR" });
      await assert.rejects(a.createIfAbsent("10.244.1.0/24", attrs(""), 60), { code: "INVALID_LEASE" });
      await assert.rejects(a.renew("10.244.1.0/24", attrs("a"), 0), { code: "INVALID_LEASE" });
    }));

    test("close is idempotent, stops watches, and later calls fail STORE_CLOSED", () => withArea(impl, async (open) => {
      const a = open();
      const events: LeaseEvent[] = [];
      a.watch((e) => events.push(e));
      await a.close();
      await a.close();
      await assert.rejects(a.list(), { code: STORE_CLOSED });
      assert.throws(() => a.watch(() => undefined), { code: STORE_CLOSED });
      await open().createIfAbsent("10.244.1.0/24", attrs("b"), 60);
      await sleep(400);
      assert.deepEqual(events, []);
    }));
  });
}
