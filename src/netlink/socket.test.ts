import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeMessages, encodeMessage, type Message } from "./codec.ts";
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, RTM_GETADDR, RTM_GETLINK, RTM_NEWADDR, RTM_NEWLINK } from "./constants.ts";
import { firstError, RouteSocket } from "./socket.ts";
import type { Syscalls } from "../sys/syscalls.ts";

/**
 * A kernel stand-in: records every datagram sent and answers each request
 * with what `answer` returns for it, one datagram per answer message, the
 * way rtnetlink does.
 */
function fakeKernel(answer: (req: Message) => Uint8Array[]) {
  const sent: Message[][] = [];
  const queue: Uint8Array[] = [];
  const unused = () => {
    throw new Error("not used by RouteSocket");
  };
  const sys: Syscalls = {
    netlinkSocket: () => 3,
    send(_fd, buf) {
      const msgs = decodeMessages(buf.slice());
      sent.push(msgs);
      for (const m of msgs) queue.push(...answer(m));
    },
    recv(_fd, buf) {
      const next = queue.shift();
      assert.ok(next, "recv with nothing to receive would block forever");
      buf.set(next);
      return next.length;
    },
    unixConnect: unused,
    setns: unused,
    flock: unused,
    open: unused,
    read: unused,
    write: unused,
    pwrite: unused,
    rename: unused,
    unlink: unused,
    mkdir: unused,
    access: unused,
    stat: unused,
    fstat: unused,
    nsType: unused,
    close: () => {},
  };
  return { sys, sent };
}

const ack = (req: Message, errno = 0): Uint8Array => {
  const body = new Uint8Array(20);
  new DataView(body.buffer).setInt32(0, -errno, true);
  return encodeMessage(NLMSG_ERROR, 0, req.seq, body);
};
const reply = (req: Message, type: number, tag: number): Uint8Array => encodeMessage(type, 0, req.seq, Uint8Array.of(tag, 0, 0, 0));

test("a batch is one datagram; changes are acked, gets are not; every outcome comes back in order", () => {
  const { sys, sent } = fakeKernel((req) => {
    if (req.type === RTM_GETLINK) return [reply(req, RTM_NEWLINK, 7)];
    return [ack(req, req.type === RTM_NEWADDR ? 17 : 0)];
  });
  const sock = new RouteSocket(sys, 3);
  const outcomes = sock.batch([
    { what: "add address", type: RTM_NEWADDR, flags: 0, header: new Uint8Array(8) },
    { what: "create veth", type: RTM_NEWLINK, flags: 0, header: new Uint8Array(16) },
    { what: "look up link", type: RTM_GETLINK, flags: 0, header: new Uint8Array(16) },
  ]);
  assert.equal(sent.length, 1, "one send");
  assert.deepEqual(sent[0]!.map((m) => m.flags), [NLM_F_REQUEST | NLM_F_ACK, NLM_F_REQUEST | NLM_F_ACK, NLM_F_REQUEST]);
  assert.equal(outcomes[0]!.error?.code, "EEXIST");
  assert.equal(outcomes[0]!.error?.message, "add address: EEXIST");
  assert.deepEqual(outcomes[1], { replies: [] });
  assert.deepEqual(outcomes[2]!.replies!.map((m) => m.payload[0]), [7]);
  assert.equal(firstError(outcomes)?.code, "EEXIST");
  assert.equal(firstError(outcomes, (i, e) => i === 0 && e.code === "EEXIST"), undefined);
});

test("a dump collects replies until NLMSG_DONE and skips answers to other requests", () => {
  const { sys } = fakeKernel((req) => [
    encodeMessage(NLMSG_ERROR, 0, req.seq + 100, new Uint8Array(20)), // not ours
    reply(req, RTM_NEWADDR, 1),
    reply(req, RTM_NEWADDR, 2),
    encodeMessage(NLMSG_DONE, 0, req.seq, new Uint8Array(4)),
  ]);
  const sock = new RouteSocket(sys, 3);
  const replies = sock.get("list addresses", RTM_GETADDR, new Uint8Array(8));
  assert.deepEqual(replies.map((m) => m.payload[0]), [1, 2]);
});

test("change() and get() throw the request's failure; sequence numbers never repeat", () => {
  const seqs: number[] = [];
  const { sys, sent } = fakeKernel((req) => {
    seqs.push(req.seq);
    return [ack(req, 19)];
  });
  const sock = new RouteSocket(sys, 3);
  assert.throws(() => sock.change("delete link veth0", RTM_NEWLINK, 0, new Uint8Array(16)), /delete link veth0: ENODEV/);
  assert.throws(() => sock.get("look up link veth0", RTM_GETLINK, new Uint8Array(16), [], true), /look up link veth0: ENODEV/);
  sock.batch([
    { what: "a", type: RTM_NEWLINK, flags: 0, header: new Uint8Array(16) },
    { what: "b", type: RTM_GETADDR, flags: NLM_F_DUMP, header: new Uint8Array(8) },
  ]);
  assert.equal(new Set(seqs).size, 4);
  assert.equal(sent[2]![1]!.flags, NLM_F_REQUEST | NLM_F_DUMP);
});
