import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import type { Probe } from "../../kube/pod.ts";
import { probeOnce, resolvePort, runProber } from "./probes.ts";

const timing = { initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1 };
const ports = [{ name: "http", containerPort: 8080, hostPort: null, protocol: "TCP" as const }];

test("a probe's port is a number or a declared port's name", () => {
  assert.equal(resolvePort(80, ports), 80);
  assert.equal(resolvePort("8081", ports), 8081);
  assert.equal(resolvePort("http", ports), 8080);
  assert.equal(resolvePort("nope", ports), null);
});

test("tcpSocket and httpGet probes against real servers on loopback; exec by its exit status", async () => {
  const tcp = createServer((s) => s.end()).listen(0, "127.0.0.1");
  await new Promise((r) => tcp.once("listening", r));
  const http = createHttpServer((req, res) => {
    res.statusCode = req.url === "/ok" ? 200 : 500;
    res.end();
  }).listen(0, "127.0.0.1");
  await new Promise((r) => http.once("listening", r));
  try {
    const tcpPort = (tcp.address() as AddressInfo).port;
    const httpPort = (http.address() as AddressInfo).port;
    const noExec = async () => -1;
    const probe = (action: Probe["action"]): Probe => ({ action, ...timing });
    assert.equal((await probeOnce(probe({ kind: "tcpSocket", host: null, port: tcpPort }), "127.0.0.1", [], noExec)).ok, true);
    tcp.close();
    await new Promise((r) => tcp.once("close", r));
    assert.equal((await probeOnce(probe({ kind: "tcpSocket", host: null, port: tcpPort }), "127.0.0.1", [], noExec)).ok, false);
    const get = (path: string) => probe({ kind: "httpGet", host: null, port: httpPort, path, scheme: "HTTP", headers: [] });
    assert.equal((await probeOnce(get("/ok"), "127.0.0.1", [], noExec)).ok, true);
    const bad = await probeOnce(get("/bad"), "127.0.0.1", [], noExec);
    assert.deepEqual(bad, { ok: false, message: "HTTP probe failed with statuscode: 500" });
    assert.equal((await probeOnce(probe({ kind: "exec", command: ["true"] }), "", [], async () => 0)).ok, true);
    assert.equal((await probeOnce(probe({ kind: "exec", command: ["false"] }), "", [], async () => 1)).ok, false);
  } finally {
    http.close();
  }
});

test("a prober reports a change only once its threshold is reached", async () => {
  const results = [false, false, true, true, true];
  const seen: boolean[] = [];
  const abort = new AbortController();
  const probe: Probe = { action: { kind: "exec", command: [] }, ...timing, periodSeconds: 0, successThreshold: 2, failureThreshold: 2 };
  let i = 0;
  await runProber(probe, async () => {
    const ok = results[i++];
    if (ok === undefined) abort.abort();
    return { ok: ok ?? true, message: "" };
  }, (ok) => seen.push(ok), abort.signal);
  assert.deepEqual(seen, [false, true]);
});
