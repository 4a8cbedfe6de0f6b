/**
 * A NETLINK_ROUTE socket: one request at a time, each answered by an ack or
 * by a dump that ends in NLMSG_DONE. The socket belongs to the network
 * namespace it was opened in, whatever namespace the thread is in later:
 * that is how the plugin talks to the node and the pod at once.
 */
import { decodeMessages, encodeMessage, type Attr, type Message } from "./codec.ts";
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR } from "./constants.ts";
import { SysError, type Syscalls } from "../sys/syscalls.ts";

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
    this.#exchange(what, type, flags | NLM_F_ACK, header, attrs);
  }

  /** Sends a get request; returns the replies (a dump unless `single`). */
  get(what: string, type: number, header: Uint8Array, attrs: Attr[] = [], single = false): Message[] {
    return this.#exchange(what, type, single ? 0 : NLM_F_DUMP, header, attrs);
  }

  #exchange(what: string, type: number, flags: number, header: Uint8Array, attrs: Attr[]): Message[] {
    const seq = this.#seq++;
    this.#sys.send(this.#fd, encodeMessage(type, flags | NLM_F_REQUEST, seq, header, attrs));
    const replies: Message[] = [];
    const dump = (flags & NLM_F_DUMP) === NLM_F_DUMP;
    for (;;) {
      const n = this.#sys.recv(this.#fd, this.#buf);
      for (const m of decodeMessages(this.#buf.subarray(0, n))) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_ERROR) {
          const err = new DataView(m.payload.buffer, m.payload.byteOffset, 4).getInt32(0, true);
          if (err !== 0) throw new SysError(what, -err);
          return replies;
        }
        if (m.type === NLMSG_DONE) return replies;
        replies.push({ ...m, payload: m.payload.slice() });
        if (!dump) return replies;
      }
    }
  }

  /** Closes the socket; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sys.close(this.#fd);
  }
}
