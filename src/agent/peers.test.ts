import { test } from "node:test";
import assert from "node:assert/strict";
import type { Backend, Peer, ReconcileMode, ReconcileReport } from "../backend/types.ts";
import type { Lease } from "../store/types.ts";
import { sampleStatus } from "../../test/support/agent-status.ts";
import { renderMetrics } from "./metrics.ts";
import { PeerSync } from "./peers.ts";
import { until } from "../../test/support/until.ts";

function lease(node: string, subnet: string, backend = "vxlan"): Lease {
  return { subnet, attrs: { node, publicIp: `192.168.125.${subnet.split(".")[2]}`, backend, backendData: { vtepMac: "0a:58:00:00:00:01" } }, expiresAt: 1 };
}

class RecordingBackend implements Backend {
  calls: string[][] = [];
  modes: (ReconcileMode | undefined)[] = [];
  failNext = false;
  announce() {
    return {};
  }
  podMtu(underlayMtu: number) {
    return underlayMtu - 50;
  }
  async setup() {
    return { backendData: {}, mtu: 1450 };
  }
  async reconcile(peers: readonly Peer[], mode?: ReconcileMode): Promise<ReconcileReport> {
    this.modes.push(mode);
    await new Promise((r) => setTimeout(r, 20));
    if (this.failNext) {
      this.failNext = false;
      throw new Error("device gone");
    }
    this.calls.push(peers.map((p) => p.node));
    return { changed: peers.map((p) => p.node), removed: [], problems: [] };
  }
  async cleanup() {}
}

function make(backend: Backend, repaired: unknown[] = []) {
  const lines: string[] = [];
  const sync = new PeerSync({
    backend,
    self: () => ({ node: "me", subnet: "10.244.1.0/24", backend: "vxlan" }),
    log: (l) => lines.push(l),
    repair: async (err) => void repaired.push(err),
  });
  return { sync, lines };
}

test("a burst of lease events costs at most two reconciles, the last with every peer", async () => {
  const backend = new RecordingBackend();
  const { sync } = make(backend);
  for (let i = 2; i < 52; i++) sync.onEvent({ type: "put", lease: lease(`n${i}`, `10.244.${i}.0/24`) });
  await new Promise((r) => setTimeout(r, 10));
  for (let i = 52; i < 60; i++) sync.onEvent({ type: "put", lease: lease(`n${i}`, `10.244.${i}.0/24`) });
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(backend.calls.length <= 2, `${backend.calls.length} reconciles`);
  assert.equal(backend.calls.at(-1)!.length, 58);
  await sync.stop();
});

test("our own lease and peers of another backend are not programmed; the mismatch is a problem", async () => {
  const backend = new RecordingBackend();
  const { sync, lines } = make(backend);
  sync.seed([lease("me", "10.244.1.0/24"), lease("b", "10.244.2.0/24"), lease("c", "10.244.3.0/24", "host-gw")]);
  await sync.reconcileNow();
  assert.deepEqual(backend.calls, [["b"]]);
  const status = sync.peerStatus();
  assert.deepEqual(status.map((p) => [p.node, p.state, p.problem?.code]), [["b", "programmed", undefined], ["c", "problem", "PEER_BACKEND_MISMATCH"]]);
  assert.ok(lines.some((l) => l.startsWith("PEER_BACKEND_MISMATCH: peer c runs the host-gw backend")));
  assert.equal(sync.stats().runs, 1);
  await sync.stop();
});

test("a delete removes the peer; a delete of an unknown subnet does nothing", async () => {
  const backend = new RecordingBackend();
  const { sync } = make(backend);
  sync.seed([lease("b", "10.244.2.0/24")]);
  sync.onEvent({ type: "delete", subnet: "10.244.9.0/24" });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(backend.calls.length, 0);
  sync.onEvent({ type: "delete", subnet: "10.244.2.0/24" });
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(backend.calls, [[]]);
  await sync.stop();
});

test("a failed reconcile repairs the backend and tries once more", async () => {
  const backend = new RecordingBackend();
  const repaired: unknown[] = [];
  const { sync } = make(backend, repaired);
  sync.seed([lease("b", "10.244.2.0/24")]);
  backend.failNext = true;
  await sync.reconcileNow();
  assert.equal(repaired.length, 1);
  assert.deepEqual(backend.calls, [["b"]]);
  assert.equal(sync.stats().failures, 0);
  await sync.stop();
});

test("lease events ask for a changes reconcile, the start and resync for a full one, and full wins when folded", async () => {
  const backend = new RecordingBackend();
  const { sync } = make(backend);
  sync.seed([lease("b", "10.244.2.0/24")]);
  await sync.reconcileNow();
  sync.onEvent({ type: "put", lease: lease("c", "10.244.3.0/24") });
  await until("the changes reconcile", () => backend.calls.length === 2);
  assert.deepEqual(backend.modes, ["full", "changes"]);
  assert.deepEqual(backend.calls.at(-1), ["b", "c"]);

  // A change arrives while a resync's full reconcile is queued behind a running one: one full run covers both.
  backend.modes = [];
  sync.onEvent({ type: "put", lease: lease("d", "10.244.4.0/24") });
  await new Promise((r) => setTimeout(r, 10)); // the changes run has begun
  const resync = sync.reconcileNow();
  sync.onEvent({ type: "put", lease: lease("e", "10.244.5.0/24") });
  await resync;
  assert.deepEqual(backend.modes, ["changes", "full"]);
  assert.deepEqual(backend.calls.at(-1), ["b", "c", "d", "e"]);
  await sync.stop();
});

test("after a failed changes reconcile the backend is repaired and the retry is a full one", async () => {
  const backend = new RecordingBackend();
  const repaired: unknown[] = [];
  const { sync } = make(backend, repaired);
  sync.seed([lease("b", "10.244.2.0/24")]);
  await sync.reconcileNow();
  backend.modes = [];
  backend.failNext = true;
  sync.onEvent({ type: "put", lease: lease("c", "10.244.3.0/24") });
  await until("the retry", () => backend.calls.length === 2);
  assert.equal(repaired.length, 1);
  assert.deepEqual(backend.modes, ["changes", "full"]);
  await sync.stop();
});

test("over 2,000 reconciles every count, sum and bucket of /metrics only grows", async () => {
  // A backend whose reconciles take between 0 and 40 ms of (fake) time, so
  // observations land in many buckets; the old histogram kept only the
  // last 1,000 durations, so its counts stopped or fell after that.
  let fakeMs = 0;
  const realNow = performance.now;
  performance.now = () => fakeMs;
  try {
    const backend: Backend = {
      announce: () => ({}),
      podMtu: (underlayMtu) => underlayMtu - 50,
      setup: async () => ({ backendData: {}, mtu: 1450 }),
      reconcile: async () => {
        fakeMs += (runs++ * 7919) % 40;
        return { changed: [], removed: [], problems: [] };
      },
      cleanup: async () => {},
    };
    let runs = 0;
    const { sync } = make(backend);
    let previous = new Map<string, number>();
    for (let scrape = 0; scrape < 40; scrape++) {
      for (let i = 0; i < 55; i++) await sync.reconcileNow();
      const status = sampleStatus({ reconcile: sync.stats() });
      const now = new Map(
        renderMetrics(status, null)
          .split("\n")
          .filter((l) => l.startsWith("weft_reconcile"))
          .map((l) => [l.slice(0, l.lastIndexOf(" ")), Number(l.slice(l.lastIndexOf(" ") + 1))] as const),
      );
      for (const [series, value] of previous) assert.ok(now.get(series)! >= value, `${series} fell from ${value} to ${now.get(series)} at scrape ${scrape}`);
      previous = now;
    }
    assert.equal(previous.get("weft_reconcile_duration_seconds_count"), 2200);
    assert.equal(previous.get("weft_reconcile_total"), 2200);
    const durationsMs = Array.from({ length: 2200 }, (_, i) => (i * 7919) % 40);
    assert.equal(previous.get('weft_reconcile_duration_seconds_bucket{le="0.01"}'), durationsMs.filter((ms) => ms <= 10).length, "every observation since start is counted");
  } finally {
    performance.now = realNow;
  }
});
