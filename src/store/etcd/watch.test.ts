// The etcd watch against a scripted fake gateway on loopback, for the paths a
// real etcd shows only rarely: a compacted history, and an etcd that came
// back with an older revision than the watcher saw.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import { encodeLease, type Lease, type LeaseEvent } from "../types.ts";
import { EtcdClient, toBase64 } from "./client.ts";
import { watchPrefix } from "./watch.ts";

const PREFIX = "/weft/subnets/";
const lease = (n: number): Lease => ({
  subnet: `10.244.${n}.0/24`,
  attrs: { node: `n${n}`, publicIp: `192.168.125.${100 + n}`, backend: "vxlan", backendData: {} },
  expiresAt: 1_000,
});
const kv = (l: Lease, rev: number) => ({
  key: toBase64(`${PREFIX}${l.subnet.replace("/", "-")}`),
  value: toBase64(encodeLease(l)),
  create_revision: String(rev),
  mod_revision: String(rev),
});
const line = (res: ServerResponse, result: unknown): void => void res.write(`${JSON.stringify({ result })}\n`);

// Each request takes the next step; a watch step may end its stream.
type Step =
  | { range: { kvs: ReturnType<typeof kv>[]; revision: number } }
  | { watchFrom: number; send: (res: ServerResponse) => void; end: boolean };

const [a, b, c] = [lease(1), lease(2), lease(3)];
const steps: Step[] = [
  { range: { kvs: [kv(a, 5)], revision: 5 } },
  { watchFrom: 6, end: true, send: (res) => {
    line(res, { header: { revision: "5" }, created: true });
    line(res, { header: { revision: "7" }, events: [{ kv: kv(b, 7) }] });
  } },
  // The connection broke: resume after revision 7, to find it compacted.
  { watchFrom: 8, end: false, send: (res) => {
    line(res, { header: { revision: "12" }, created: true });
    line(res, { header: {}, canceled: true, compact_revision: "10" });
  } },
  { range: { kvs: [kv(b, 7), kv(c, 11)], revision: 12 } },
  // etcd came back from a backup at revision 9, behind the 12 we saw.
  { watchFrom: 13, end: false, send: (res) => line(res, { header: { revision: "9" }, created: true }) },
  { range: { kvs: [kv(c, 8)], revision: 9 } },
  { watchFrom: 10, end: false, send: (res) => line(res, { header: { revision: "9" }, created: true }) },
];

const seen: string[] = [];
const server = createServer((req, res) => {
  let body = "";
  req.on("data", (chunk: Buffer) => (body += chunk.toString()));
  req.on("end", () => {
    const step = steps.shift();
    const request = JSON.parse(body) as { create_request?: { start_revision: string } };
    seen.push(`${req.url} ${request.create_request?.start_revision ?? ""}`.trim());
    if (!step) return void res.writeHead(500).end();
    res.writeHead(200, { "content-type": "application/json" });
    if ("range" in step) return void res.end(JSON.stringify({ header: { revision: String(step.range.revision) }, kvs: step.range.kvs }));
    assert.equal(request.create_request?.start_revision, String(step.watchFrom));
    step.send(res);
    if (step.end) res.end();
  });
});
let client: EtcdClient | undefined;
after(async () => {
  client?.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test("the watch resumes after a break, and reads everything again when etcd cannot replay", async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  assert.ok(address && typeof address === "object");
  client = new EtcdClient({ endpoints: [`http://127.0.0.1:${address.port}`], timeoutMs: 2_000 });
  const events: LeaseEvent[] = [];
  const stop = watchPrefix(client, PREFIX, (e) => events.push(e));
  try {
    const end = Date.now() + 5_000;
    while (steps.length > 0 || events.length < 5) {
      if (Date.now() > end) assert.fail(`stuck: requests ${seen.join(" | ")}, events ${JSON.stringify(events)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    stop();
  }
  assert.deepEqual(seen, [
    "/v3/kv/range", "/v3/watch 6", "/v3/watch 8", "/v3/kv/range", "/v3/watch 13", "/v3/kv/range", "/v3/watch 10",
  ]);
  assert.deepEqual(events, [
    { type: "put", lease: a }, // the first view
    { type: "put", lease: b }, // followed
    { type: "delete", subnet: a.subnet }, // found by reading again after compaction
    { type: "put", lease: c },
    { type: "delete", subnet: b.subnet }, // found by reading again after the rollback
  ]);
});
