import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { HealthCheckServers } from "./health.ts";

/** A free loopback port. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe("HealthCheckServers (real servers on loopback)", () => {
  const logs: string[] = [];
  const servers = new HealthCheckServers({ host: "127.0.0.1", log: (l) => logs.push(l) });
  after(() => servers.close());

  test("200 with local endpoints, 503 without, updated in place, closed when unwanted", async () => {
    const port = await freePort();
    await servers.sync(new Map([[port, { service: "default/lb", localEndpoints: 2 }]]));
    let r = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { service: { namespace: "default", name: "lb" }, localEndpoints: 2, serviceProxyHealthy: true });
    await servers.sync(new Map([[port, { service: "default/lb", localEndpoints: 0 }]]));
    r = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(r.status, 503);
    await r.text();
    await servers.sync(new Map());
    assert.deepEqual(servers.ports(), []);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
  });

  test("a port in use is logged, not thrown, and the others are served", async () => {
    const [busy, free] = [await freePort(), await freePort()];
    const blocker = createServer().listen(busy, "127.0.0.1");
    try {
      await servers.sync(new Map([[busy, { service: "a/x", localEndpoints: 1 }], [free, { service: "a/y", localEndpoints: 1 }]]));
      assert.deepEqual(servers.ports(), [free]);
      assert.match(logs.join("\n"), new RegExp(`health check port ${busy} of service a/x cannot be opened`));
    } finally {
      blocker.close();
      await servers.close();
      await servers.close();
    }
  });
});
