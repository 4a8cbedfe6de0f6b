// The etcd client against fake gateways on loopback: endpoint fail-over,
// timeouts and error answers. The real etcd is in test/integration.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { STORE_ERROR, STORE_UNAVAILABLE } from "../types.ts";
import { EtcdClient, EtcdStatusError, INVALID_STORE_CONFIG, fromBase64, prefixRangeEnd, toBase64 } from "./client.ts";
import { freePort } from "./server.ts";

const servers: Server[] = [];
const clients: EtcdClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function fakeGateway(handle: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => handle(req, res, body));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  assert.ok(address && typeof address === "object");
  return `http://127.0.0.1:${address.port}`;
}

const client = (endpoints: string[], timeoutMs = 2_000): EtcdClient => {
  const c = new EtcdClient({ endpoints, timeoutMs });
  clients.push(c);
  return c;
};

const answer = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
};

describe("requests", () => {
  test("go to the next endpoint when one is down, and stay with the one that answered", async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const seen: string[] = [];
    const up = await fakeGateway((req, res, body) => {
      seen.push(`${req.url} ${body}`);
      answer(res, 200, { header: { revision: "7" } });
    });
    const c = client([down, up]);
    assert.deepEqual(await c.call("/v3/kv/range", { key: "a" }), { header: { revision: "7" } });
    assert.deepEqual(await c.call("/v3/kv/range", { key: "b" }), { header: { revision: "7" } });
    assert.deepEqual(seen, ['/v3/kv/range {"key":"a"}', '/v3/kv/range {"key":"b"}']);
  });

  test("an endpoint that does not answer in time is STORE_UNAVAILABLE, soon", async () => {
    const silent = await fakeGateway(() => undefined);
    const started = Date.now();
    await assert.rejects(client([silent], 300).call("/v3/kv/range", {}), {
      code: STORE_UNAVAILABLE,
      message: `etcd at ${silent} is unavailable: no answer within 300 ms`,
    });
    assert.ok(Date.now() - started < 1_500, `took ${Date.now() - started} ms`);
  });

  test("every endpoint failing is one error naming each, with a hint", async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const leaderless = await fakeGateway((_req, res) => answer(res, 503, { error: "etcdserver: no leader", message: "etcdserver: no leader", code: 14 }));
    await assert.rejects(client([down, leaderless]).call("/v3/kv/range", {}), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, STORE_UNAVAILABLE);
      assert.equal(err.message, `etcd is unavailable at ${down} (connection refused), ${leaderless} (etcdserver: no leader)`);
      assert.equal(err.hint, "check that etcd is running and reachable at these endpoints; weft retries");
      return true;
    });
  });

  test("an error answer is an EtcdStatusError with the gRPC code", async () => {
    const picky = await fakeGateway((_req, res) => answer(res, 400, { error: "bad", message: "bad request body", code: 3 }));
    await assert.rejects(client([picky]).call("/v3/kv/txn", {}), (err: unknown) => {
      assert.ok(err instanceof EtcdStatusError);
      assert.equal(err.code, STORE_ERROR);
      assert.equal(err.grpcCode, 3);
      assert.equal(err.message, `etcd at ${picky} rejected /v3/kv/txn: bad request body (gRPC code 3)`);
      return true;
    });
  });
});

describe("streams", () => {
  test("deliver one message per line however the bytes arrive, and report the end", async () => {
    const gateway = await fakeGateway((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"result":{"created":true}}\n{"result":');
      setTimeout(() => res.end('{"events":[]}}\n'), 20);
    });
    const messages: unknown[] = [];
    const s = await client([gateway]).stream("/v3/watch", {}, (m) => messages.push(m));
    const err = await s.ended;
    assert.deepEqual(messages, [{ result: { created: true } }, { result: { events: [] } }]);
    assert.equal(err?.code, STORE_UNAVAILABLE);
    assert.match(err?.message ?? "", /^etcd at http:\/\/127\.0\.0\.1:\d+ ended the stream/);
  });

  test("closed by us ends without an error", async () => {
    const gateway = await fakeGateway((_req, res) => res.writeHead(200).write('{"result":{"created":true}}\n'));
    const s = await client([gateway]).stream("/v3/watch", {}, (_m, stream) => stream.close());
    assert.equal(await s.ended, undefined);
  });
});

describe("options", () => {
  const cases: Array<{ name: string; options: ConstructorParameters<typeof EtcdClient>[0]; message: RegExp }> = [
    { name: "no endpoints", options: { endpoints: [], timeoutMs: 1 }, message: /^no etcd endpoints given$/ },
    { name: "a path in the URL", options: { endpoints: ["http://127.0.0.1:2379/v3"], timeoutMs: 1 }, message: /^invalid etcd endpoint "http:\/\/127.0.0.1:2379\/v3"$/ },
    { name: "not a URL", options: { endpoints: ["127.0.0.1:2379"], timeoutMs: 1 }, message: /^invalid etcd endpoint/ },
    { name: "a missing CA file", options: { endpoints: ["https://127.0.0.1:2379"], caFile: "/nonexistent/ca.pem", timeoutMs: 1 }, message: /^cannot read etcd TLS caFile \/nonexistent\/ca.pem: ENOENT$/ },
    { name: "a cert without its key", options: { endpoints: ["https://127.0.0.1:2379"], certFile: "/x.pem", timeoutMs: 1 }, message: /certFile and keyFile must be given together/ },
  ];
  for (const c of cases) {
    test(`reject ${c.name}`, () => assert.throws(() => new EtcdClient(c.options), { code: INVALID_STORE_CONFIG, message: c.message }));
  }
});

test("keys are base64 and a prefix range ends at the prefix's last byte + 1", () => {
  assert.equal(fromBase64(toBase64("/weft/subnets/10.244.3.0-24")), "/weft/subnets/10.244.3.0-24");
  assert.equal(fromBase64(undefined), "");
  assert.equal(fromBase64(prefixRangeEnd("/weft/subnets/")), "/weft/subnets0");
  assert.deepEqual(Buffer.from(prefixRangeEnd("a\u00ff"), "base64"), Buffer.from([0x61, 0xc3, 0xc0]));
});
