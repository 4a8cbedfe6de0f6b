import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type AddressInfo } from "node:net";
import { portForwardStreams } from "./portforward.ts";
import { SpdySession, SpdyStream } from "./spdy.ts";

/** A session whose outgoing data frames are collected per stream (FIN as "<fin>"). */
function session(): { s: SpdySession; out: Map<number, string[]> } {
  const out = new Map<number, string[]>();
  const s = new SpdySession((b) => {
    if (b[0]! & 0x80) return; // control frames (SYN_REPLY, RST_STREAM)
    const id = b.readUInt32BE(0);
    const text = b.subarray(8).toString();
    out.set(id, [...(out.get(id) ?? []), ...(text ? [text] : []), ...(b[4]! & 1 ? ["<fin>"] : [])]);
  }, () => {}, () => {});
  return { s, out };
}

const until = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), what);
};

test("a pair of streams with one requestID forwards to the port both ways, half-closes travel as FIN, a refused port is the error stream's text", async () => {
  const server = createServer((c) => {
    c.on("data", (b) => c.write(`echo ${b}`));
    c.on("end", () => c.end("bye"));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  try {
    const { s, out } = session();
    // A hostNetwork pod's port is the node's, here this process's own loopback.
    const handle = portForwardStreams({ namespace: "default", name: "web", uid: "u1", netns: null }, () => {});
    const error = new SpdyStream(s, 1, new Map([["streamtype", "error"], ["port", String(port)], ["requestid", "0"]]));
    const data = new SpdyStream(s, 3, new Map([["streamtype", "data"], ["port", String(port)], ["requestid", "0"]]));
    handle(error);
    handle(data);
    data.emit("data", Buffer.from("hi"));
    await until("the echo comes back", () => (out.get(3) ?? []).join("").includes("echo hi"));
    data.emit("end");
    await until("the server's end comes back as FIN", () => (out.get(3) ?? []).at(-1) === "<fin>");
    assert.equal((out.get(3) ?? []).join(""), "echo hibye<fin>");
    assert.equal(out.get(1), undefined, "nothing on the error stream");

    // A port nothing listens on: the error stream says so, and both streams are ended.
    server.close();
    await new Promise((r) => setTimeout(r, 20));
    const e2 = new SpdyStream(s, 5, new Map([["streamtype", "error"], ["port", String(port)], ["requestid", "1"]]));
    const d2 = new SpdyStream(s, 7, new Map([["streamtype", "data"], ["port", String(port)], ["requestid", "1"]]));
    handle(d2);
    handle(e2);
    await until("the refusal on the error stream", () => (out.get(5) ?? []).at(-1) === "<fin>");
    assert.match((out.get(5) ?? []).join(""), new RegExp(`^error forwarding port ${port} to pod web, uid u1: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}<fin>$`));
    assert.deepEqual(out.get(7), ["<fin>"]);

    // A stream without a valid port or type is answered with the reason and closed.
    const bad = new SpdyStream(s, 9, new Map([["streamtype", "data"], ["port", "0"]]));
    handle(bad);
    assert.match((out.get(9) ?? []).join(""), /invalid port-forward stream: streamType "data", port "0"<fin>/);
  } finally {
    server.close();
  }
});
