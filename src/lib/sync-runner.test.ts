import { afterEach, beforeEach, describe, mock, test } from "node:test";
import assert from "node:assert/strict";
import { SyncRunner, type SyncReason } from "./sync-runner.ts";

/** Moves the fake clock and lets the promises it released settle. */
async function advance(ms: number): Promise<void> {
  mock.timers.tick(ms);
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

describe("SyncRunner", () => {
  let runs: { reason: SyncReason; at: number }[];
  let runner: SyncRunner | undefined;
  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
    runs = [];
  });
  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
    mock.timers.reset();
  });

  function make(o: { burst?: number; minIntervalMs?: number; periodMs?: number; retryAfterMs?: number; maxRetryMs?: number; fail?: () => boolean; busyMs?: number } = {}): SyncRunner {
    runner = new SyncRunner({
      ...o,
      sync: async (reason) => {
        runs.push({ reason, at: Date.now() });
        if (o.busyMs) await new Promise((r) => setTimeout(r, o.busyMs));
        if (o.fail?.()) throw new Error("boom");
      },
    });
    runner.start();
    return runner;
  }

  test("a burst of requests becomes one run", async () => {
    const r = make();
    for (let i = 0; i < 50; i++) r.request();
    await advance(0);
    await advance(1000);
    assert.deepEqual(runs, [{ reason: "request", at: 0 }]);
  });

  test("an idle runner starts the run once this turn of the event loop ends, not through the timer queue", async () => {
    const r = make();
    r.request();
    r.request();
    assert.equal(runs.length, 0, "not within the turn of the requests, so they coalesce");
    await new Promise((resolve) => setImmediate(resolve)); // the fake clock does not move
    assert.deepEqual(runs, [{ reason: "request", at: 0 }]);
  });

  test("requests during a run become exactly one more run after it", async () => {
    const r = make({ busyMs: 30, minIntervalMs: 0 });
    r.request();
    await advance(0);
    for (let i = 0; i < 10; i++) r.request();
    await advance(30);
    await advance(0);
    await advance(100);
    assert.deepEqual(runs.map((x) => x.at), [0, 30]);
  });

  test("burst runs at once, then one per minimum interval", async () => {
    const r = make({ burst: 2, minIntervalMs: 100 });
    for (let i = 0; i < 4; i++) {
      r.request();
      await advance(0);
    }
    assert.deepEqual(runs.map((x) => x.at), [0, 0], "two tokens, two immediate runs; the rest waits");
    await advance(99);
    assert.equal(runs.length, 2);
    await advance(1);
    assert.deepEqual(runs.map((x) => x.at), [0, 0, 100], "the two waiting requests coalesced into one run");
  });

  test("runs at least every period, and a run restarts the period", async () => {
    const r = make({ periodMs: 1000 });
    await advance(1000);
    assert.deepEqual(runs, [{ reason: "periodic", at: 1000 }]);
    await advance(500);
    r.request();
    await advance(0);
    await advance(999);
    assert.equal(runs.length, 2, "the request at 1500 moved the next period to 2500");
    await advance(1);
    assert.deepEqual(runs.at(-1), { reason: "periodic", at: 2500 });
  });

  test("a failed run is retried after retryAfterMs, doubling, then back to normal", async () => {
    let failing = 3;
    const r = make({ retryAfterMs: 100, maxRetryMs: 250, fail: () => failing-- > 0 });
    r.request();
    await advance(0);
    assert.equal(r.failures, 1);
    for (let i = 0; i < 6; i++) await advance(50);
    assert.deepEqual(runs.map((x) => [x.reason, x.at]), [["request", 0], ["retry", 100], ["retry", 300]]);
    await advance(250);
    assert.deepEqual(runs.at(-1), { reason: "retry", at: 550 }, "capped at maxRetryMs");
    assert.equal(r.failures, 0);
    await advance(5000);
    assert.equal(runs.length, 4, "no retry after a success");
  });

  test("requestAndWait resolves after a run that started after the call", async () => {
    const r = make({ busyMs: 10, minIntervalMs: 0 });
    r.request();
    await advance(0);
    let done = false;
    void r.requestAndWait().then(() => (done = true));
    await advance(10);
    assert.equal(done, false, "the first run had started before the call");
    await advance(0);
    await advance(10);
    assert.equal(done, true);
    assert.equal(runs.length, 2);
  });

  test("nothing runs before start or after stop", async () => {
    runner = new SyncRunner({ sync: async (reason) => void runs.push({ reason, at: Date.now() }) });
    runner.request();
    await advance(100);
    assert.equal(runs.length, 0);
    runner.start();
    await advance(0);
    assert.equal(runs.length, 1);
    await runner.stop();
    await runner.stop();
    runner.request();
    await advance(1000);
    assert.equal(runs.length, 1);
  });

  test("bad options are refused", () => {
    assert.throws(() => new SyncRunner({ sync: async () => {}, burst: 0 }), RangeError);
    assert.throws(() => new SyncRunner({ sync: async () => {}, minIntervalMs: -1 }), RangeError);
  });
});
