/**
 * A NETLINK_ROUTE socket. Requests go out in batches: several messages in
 * one datagram, which the kernel handles one after another exactly as if
 * they had been sent apart, then every answer is read back. A batch costs
 * one send and one wake-up instead of one per request, which is most of
 * what an ADD spends on netlink.
 *
 * The socket belongs to the network namespace it was opened in, whatever
 * namespace the thread is in later: that is how the plugin talks to the
 * node and the pod at once.
 */
import { decodeMessages, encodeMessage, type Attr, type Message } from "./codec.ts";
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR } from "./constants.ts";
import { SysError, type Syscalls } from "../sys/syscalls.ts";

/** One request: what it is for (named in errors), the message type, flags, family header and attributes. */
export interface Request {
  what: string;
  type: number;
  /** NLM_F_* beyond REQUEST and ACK: CREATE, EXCL, REPLACE for a change, DUMP for a get. */
  flags: number;
  header: Uint8Array;
  attrs?: Attr[];
}

/** What the kernel answered to one request: its replies, or the error it failed with. */
export type Outcome = { replies: Message[]; error?: undefined } | { replies?: undefined; error: SysError };

/** rtnetlink message types come in fours (NEW, DEL, GET, SET); GET is the third. */
function isGet(type: number): boolean {
  return (type & 3) === 2;
}

export class RouteSocket {
  readonly #sys: Syscalls;
  readonly #fd: number;
  readonly #buf = new Uint8Array(65536);
  #seq = 1;
  #closed = false;

  constructor(sys: Syscalls, fd: number) {
    this.#sys = sys;
    this.#fd = fd;
  }

  /** Opens a socket in the thread's current namespace. */
  static open(sys: Syscalls): RouteSocket {
    return new RouteSocket(sys, sys.netlinkSocket());
  }

  /**
   * Opens a socket in the namespace open at `nsFd`, returning the thread to
   * its own namespace before it returns. Synchronous by design: never await
   * between the two setns calls.
   */
  static openIn(sys: Syscalls, nsFd: number, selfNsFd: number): RouteSocket {
    sys.setns(nsFd);
    try {
      return RouteSocket.open(sys);
    } finally {
      sys.setns(selfNsFd);
    }
  }

  /** Sends a request that changes state; throws SysError(`what`) on a negative ack. */
  change(what: string, type: number, flags: number, header: Uint8Array, attrs: Attr[] = []): void {
    const [o] = this.batch([{ what, type, flags, header, attrs }]);
    if (o!.error) throw o!.error;
  }

  /** Sends a get request; returns the replies (a dump unless `single`). */
  get(what: string, type: number, header: Uint8Array, attrs: Attr[] = [], single = false): Message[] {
    const [o] = this.batch([{ what, type, flags: single ? 0 : NLM_F_DUMP, header, attrs }]);
    if (o!.error) throw o!.error;
    return o!.replies!;
  }

  /**
   * Sends every request in one datagram and returns one outcome per request,
   * in order. Every change is acked (NLM_F_ACK is added to each request
   * that is not a get), so every request has an answer to wait for. The
   * kernel carries on past a failed request: a caller whose later requests
   * depend on an earlier one checks every outcome and undoes the rest.
   */
  batch(requests: Request[]): Outcome[] {
    const first = this.#seq;
    this.#seq += requests.length;
    // Plain loops, here and on the rest of the ADD path: see src/cni/main.ts.
    const flags: number[] = [];
    const messages: Uint8Array[] = [];
    let size = 0;
    for (let i = 0; i < requests.length; i++) {
      const r = requests[i]!;
      flags.push(r.flags | NLM_F_REQUEST | (isGet(r.type) ? 0 : NLM_F_ACK));
      messages.push(encodeMessage(r.type, flags[i]!, first + i, r.header, r.attrs));
      size += messages[i]!.length;
    }
    const datagram = new Uint8Array(size);
    for (let i = 0, off = 0; i < messages.length; off += messages[i]!.length, i++) datagram.set(messages[i]!, off);
    this.#sys.send(this.#fd, datagram);

    const outcomes: Outcome[] = new Array(requests.length);
    const replies: Message[][] = [];
    for (let i = 0; i < requests.length; i++) replies.push([]);
    let pending = requests.length;
    while (pending > 0) {
      const n = this.#sys.recv(this.#fd, this.#buf);
      for (const m of decodeMessages(this.#buf.subarray(0, n))) {
        const i = m.seq - first;
        if (i < 0 || i >= requests.length || outcomes[i]) continue;
        if (m.type === NLMSG_ERROR) {
          const err = new DataView(m.payload.buffer, m.payload.byteOffset, 4).getInt32(0, true);
          outcomes[i] = err === 0 ? { replies: replies[i]! } : { error: new SysError(requests[i]!.what, -err) };
        } else if (m.type === NLMSG_DONE) {
          outcomes[i] = { replies: replies[i]! };
        } else {
          replies[i]!.push({ ...m, payload: m.payload.slice() });
          // A get that is not a dump is answered by its one reply and nothing after it.
          if ((flags[i]! & NLM_F_DUMP) !== NLM_F_DUMP) outcomes[i] = { replies: replies[i]! };
        }
        if (outcomes[i]) pending--;
      }
    }
    return outcomes;
  }

  /** Closes the socket; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sys.close(this.#fd);
  }
}

/** The first failure among `outcomes`, skipping those `ignore` accepts (e.g. EEXIST where that means "already done"). */
export function firstError(outcomes: Outcome[], ignore?: (index: number, error: SysError) => boolean): SysError | undefined {
  for (let i = 0; i < outcomes.length; i++) {
    const e = outcomes[i]!.error;
    if (e && !ignore?.(i, e)) return e;
  }
  return undefined;
}
