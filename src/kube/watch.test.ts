/**
 * LeanWatch (watch.ts) against a stand-in API server on loopback
 * (test/support/fake-kube-api.ts): events as the API server writes them,
 * also cut anywhere by the network, and the ends of a watch.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { LeanWatch } from "./watch.ts";
import { FakeKubeApi, SVC_PATH } from "../../test/support/fake-kube-api.ts";
import { until } from "../../test/support/until.ts";

describe("LeanWatch", { timeout: 30_000 }, () => {
  const api = new FakeKubeApi();
  let kubeconfig: string;
  const kc = new KubeConfig();
  before(async () => {
    await api.listen();
    kc.loadFromFile((kubeconfig = api.writeKubeconfig()));
  });
  after(() => api.close());

  /** Starts a watch of `path`; what it reports, and its end. */
  async function watch(path: string) {
    const events: { type: string; name: string }[] = [];
    const ended: unknown[] = [];
    const controller = await new LeanWatch(kc).watch(path, { resourceVersion: "10" }, (type, obj: { metadata?: { name?: string } }) => events.push({ type, name: obj?.metadata?.name ?? "" }), (err) => ended.push(err));
    return { events, ended, controller };
  }
  const opened = async (n: number) => until("the watch is open", () => (api.watchers.get(SVC_PATH) ?? []).filter((w) => !w.writableEnded).length >= n, 5000, 10);

  test("each line is one event, however the stream is cut: mid-line, mid-character, several in one write", async () => {
    api.watchers.set(SVC_PATH, []);
    const w = await watch(SVC_PATH);
    await opened(1);
    const res = api.watchers.get(SVC_PATH)![0]!;
    const line = (name: string) => JSON.stringify({ type: "ADDED", object: { metadata: { name } } }) + "\n";
    const split = Buffer.from(line("café") + line("b") + line("c"));
    // "é" is two bytes: cut between them, and inside the second line.
    const cut = split.indexOf(Buffer.from("é")) + 1;
    res.write(split.subarray(0, cut));
    await new Promise((r) => setTimeout(r, 50));
    res.write(split.subarray(cut, cut + 20));
    await new Promise((r) => setTimeout(r, 50));
    res.write(split.subarray(cut + 20));
    await until("three events", () => w.events.length === 3, 5000, 10);
    assert.deepEqual(w.events, [{ type: "ADDED", name: "café" }, { type: "ADDED", name: "b" }, { type: "ADDED", name: "c" }]);
    // A line that is not JSON is skipped, as the library does; the watch goes on.
    res.write("not json\n");
    api.push(SVC_PATH, "DELETED", { metadata: { name: "d" } });
    await until("the next event", () => w.events.length === 4, 5000, 10);
    assert.deepEqual(w.events[3], { type: "DELETED", name: "d" });
    w.controller.abort();
    await until("done", () => w.ended.length === 1, 5000, 10);
  });

  test("the server's end is done(null) once, after the last event, also one without its newline", async () => {
    api.watchers.set(SVC_PATH, []);
    const w = await watch(SVC_PATH);
    await opened(1);
    api.watchers.get(SVC_PATH)![0]!.end(JSON.stringify({ type: "ERROR", object: { kind: "Status", code: 410, metadata: { name: "gone" } } }));
    await until("done", () => w.ended.length > 0, 5000, 10);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(w.events, [{ type: "ERROR", name: "gone" }]);
    assert.deepEqual(w.ended, [null]);
  });

  test("silence ends the watch with a TimeoutError; an abort ends it once; a refused connection is done(err), not a throw", async () => {
    api.watchers.set(SVC_PATH, []);
    const ended: unknown[] = [];
    await new LeanWatch(kc, 200).watch(SVC_PATH, {}, () => {}, (err) => ended.push(err));
    await until("timed out", () => ended.length > 0, 5000, 10);
    assert.equal((ended[0] as Error).name, "TimeoutError");

    const w = await watch(SVC_PATH);
    await opened(1);
    w.controller.abort();
    api.push(SVC_PATH, "ADDED", { metadata: { name: "late" } });
    await until("done", () => w.ended.length > 0, 5000, 10);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(w.ended.length, 1);
    assert.ok(w.ended[0] instanceof Error);
    assert.deepEqual(w.events, []);

    const closed = new KubeConfig();
    closed.loadFromString(readFileSync(kubeconfig, "utf8").replace(/127\.0\.0\.1:\d+/, "127.0.0.1:1"));
    const refused: unknown[] = [];
    await new LeanWatch(closed).watch(SVC_PATH, {}, () => {}, (err) => refused.push(err));
    await until("refused", () => refused.length > 0, 5000, 10);
    assert.ok(refused[0] instanceof Error);
  });

  test("an HTTP error is done(err) with its statusCode", async () => {
    const w = await watch("/api/v1/nowhere");
    await until("done", () => w.ended.length > 0, 5000, 10);
    assert.equal((w.ended[0] as { statusCode?: number }).statusCode, 404);
    assert.equal(w.events.length, 0);
  });
});
