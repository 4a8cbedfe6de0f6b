import { test } from "node:test";
import assert from "node:assert/strict";
import { constants, createDeflate, inflateSync } from "node:zlib";
import { adler32, SPDY3_DICTIONARY, SpdySession, type SpdyStream } from "./spdy.ts";

/** A SPDY/3 client's side, as the Go client frames it: one deflate stream with the dictionary for every header block. */
class Client {
  readonly #deflate = createDeflate({ dictionary: SPDY3_DICTIONARY, level: 9 });
  readonly #out: Buffer[] = [];

  constructor() {
    this.#deflate.on("data", (b: Buffer) => this.#out.push(b));
  }

  async headerBlock(headers: Record<string, string>): Promise<Buffer> {
    const parts: Buffer[] = [u32(Object.keys(headers).length)];
    for (const [k, v] of Object.entries(headers)) parts.push(u32(k.length), Buffer.from(k), u32(v.length), Buffer.from(v));
    this.#out.length = 0;
    this.#deflate.write(Buffer.concat(parts));
    await new Promise<void>((resolve) => this.#deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    await new Promise((resolve) => setImmediate(resolve));
    return Buffer.concat(this.#out);
  }

  async synStream(id: number, headers: Record<string, string>, flags = 0): Promise<Buffer> {
    const body = Buffer.concat([u32(id), u32(0), Buffer.from([0, 0]), await this.headerBlock(headers)]);
    return control(1, flags, body);
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function control(type: number, flags: number, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE((0x80030000 | type) >>> 0, 0);
  head.writeUInt32BE(((flags << 24) | body.length) >>> 0, 4);
  return Buffer.concat([head, body]);
}

function data(id: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(id, 0);
  head.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
  return Buffer.concat([head, payload]);
}

/** Splits what the server sent into frames. */
function frames(bytes: Buffer): { control: boolean; type: number; id: number; flags: number; body: Buffer }[] {
  const out = [];
  for (let at = 0; at < bytes.length; ) {
    const head = bytes.readUInt32BE(at);
    const len = bytes.readUInt32BE(at + 4) & 0xffffff;
    const body = bytes.subarray(at + 8, at + 8 + len);
    const isControl = (head & 0x80000000) !== 0;
    out.push({ control: isControl, type: isControl ? head & 0xffff : 0, id: isControl ? body.readUInt32BE(0) & 0x7fffffff : head & 0x7fffffff, flags: bytes[at + 4]!, body });
    at += 8 + len;
  }
  return out;
}

test("the SPDY/3 dictionary is the protocol's: 1423 bytes, named by its Adler-32", () => {
  assert.equal(SPDY3_DICTIONARY.length, 1423);
  assert.equal(SPDY3_DICTIONARY.subarray(0, 11).toString("latin1"), "\0\0\0\x07options");
  assert.ok(SPDY3_DICTIONARY.toString("latin1").endsWith("enq=0."));
  assert.equal(adler32(Buffer.from("Wikipedia")), 0x11e60398);
});

test("a session opens the client's streams with their headers, replies to each, and carries data and half-closes both ways", async () => {
  const sent: Buffer[] = [];
  const streams: SpdyStream[] = [];
  const events: string[] = [];
  let closed = false;
  const session = new SpdySession((b) => sent.push(b), () => (closed = true), (s) => {
    streams.push(s);
    s.on("data", (b: Buffer) => events.push(`${s.id} data ${b.toString()}`));
    s.on("end", () => events.push(`${s.id} end`));
    s.on("close", () => events.push(`${s.id} close`));
  });
  const client = new Client();
  // The first frame arrives in two pieces, the next two in one chunk.
  const syn1 = await client.synStream(1, { streamtype: "error", port: "80", requestid: "0" }, 0x01);
  session.receive(syn1.subarray(0, 5));
  session.receive(syn1.subarray(5));
  session.receive(Buffer.concat([await client.synStream(3, { streamtype: "data", port: "80", requestid: "0" }), data(3, 0, Buffer.from("hello"))]));
  session.receive(data(3, 0x01, Buffer.alloc(0)));
  assert.deepEqual(streams.map((s) => [s.id, s.headers.get("streamtype"), s.headers.get("port"), s.headers.get("requestid")]), [[1, "error", "80", "0"], [3, "data", "80", "0"]]);
  assert.deepEqual(events, ["1 end", "3 data hello", "3 end"]);

  streams[1]!.write("world");
  streams[1]!.end();
  session.receive(control(6, 0, u32(7)));
  const out = frames(Buffer.concat(sent));
  // SYN_REPLY for 1 and 3, whose header blocks (one zlib stream with the dictionary) hold no headers.
  const replies = out.filter((f) => f.control && f.type === 2);
  assert.deepEqual(replies.map((f) => f.id), [1, 3]);
  const headerBytes = Buffer.concat(replies.map((f) => f.body.subarray(4)));
  assert.deepEqual([...inflateSync(headerBytes, { dictionary: SPDY3_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH })], [0, 0, 0, 0, 0, 0, 0, 0]);
  const onData = out.filter((f) => !f.control);
  assert.deepEqual(onData.map((f) => [f.id, f.flags, f.body.toString()]), [[3, 0, "world"], [3, 1, ""]]);
  const ping = out.find((f) => f.control && f.type === 6);
  assert.equal(ping?.body.readUInt32BE(0), 7);

  // RST_STREAM from the client closes the stream; writes after it send nothing.
  session.receive(control(3, 0, Buffer.concat([u32(3), u32(5)])));
  assert.ok(events.includes("3 close"));
  const before = sent.length;
  streams[1]!.write("late");
  assert.equal(sent.length, before);
  assert.equal(closed, false);
  session.end();
  assert.ok(events.includes("1 close"));
  assert.equal(closed, true);
});

test("a frame of another SPDY version, or a header block that does not inflate, ends the session", () => {
  for (const bad of [
    Buffer.from([0x80, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00]),
    control(1, 0, Buffer.concat([u32(1), u32(0), Buffer.from([0, 0]), Buffer.from("not zlib")])),
  ]) {
    let closed = false;
    const session = new SpdySession(() => {}, () => (closed = true), () => assert.fail("no stream"));
    session.receive(bad);
    assert.equal(closed, true, bad.toString("hex"));
  }
});
