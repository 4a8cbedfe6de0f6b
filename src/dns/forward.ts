/**
 * Forwarding to upstream resolvers, for names outside the cluster zone.
 * Each question is asked over UDP with a random ID from one of
 * SOCKETS sockets per address family, picked at random (each bound to its
 * own ephemeral port, so a spoofed answer must guess the port as well as
 * the ID), upstreams in their configured order: a timeout, a
 * SERVFAIL or REFUSED, or an unusable answer moves on to the next one. A
 * truncated UDP answer is asked again over TCP of the same upstream. The
 * same question asked again while one is in flight shares its answer.
 * A response is accepted only from the upstream's address and port, with
 * the query's ID and the same question.
 *
 * A question gets DEADLINE_MS in all: upstreams that stayed silent are
 * asked again from the first, at most PASSES times each, while time is
 * left, and each try gets the per-try timeout or what is left, whichever
 * is less. Past the deadline the question has no answer, which the
 * handler turns into SERVFAIL, so a client whose upstreams are all
 * unreachable hears SERVFAIL before its own first timeout (5 s in glibc,
 * musl and dig) rather than silence, as CoreDNS's forward plugin answers
 * SERVFAIL at its 5 s deadline (2 s per try, 3 tries per upstream).
 */
import * as packet from "dns-packet";
import type { DecodedPacket } from "dns-packet";
import { randomInt } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { isIP, connect } from "node:net";
import type { Upstream } from "./config.ts";
import { OUR_UDP_SIZE } from "./wire.ts";

/** UDP sockets per address family that questions leave from. */
const SOCKETS = 8;
/** The least time left for another try worth sending. */
const MIN_TRY_MS = 20;
/**
 * How long one question may take, all upstreams and tries together: under
 * the 5 s a stub resolver waits for its first try, so the SERVFAIL reaches it.
 */
export const DEADLINE_MS = 4000;
/** How many times one silent upstream is asked one question at most (CoreDNS: 3). */
const PASSES = 3;

export interface ForwardResult {
  packet: DecodedPacket;
  upstream: Upstream;
}

export interface ForwarderOptions {
  /** How long one upstream gets to answer one try, in ms. Default 2000 (CoreDNS's read timeout). */
  timeoutMs?: number;
  /** How long one question may take in all, in ms. Default DEADLINE_MS (4000). */
  deadlineMs?: number;
  /** Called for each failed try, with the upstream and a short reason (timeout, servfail, refused, tcp, malformed). */
  onError?: (upstream: Upstream, reason: string) => void;
}

interface Pending {
  resolve: (p: DecodedPacket | null) => void;
  upstream: Upstream;
  name: string;
  type: string;
  timer: NodeJS.Timeout;
}

export class Forwarder {
  readonly #upstreams: Upstream[];
  readonly #timeoutMs: number;
  readonly #deadlineMs: number;
  readonly #onError: (u: Upstream, reason: string) => void;
  readonly #sockets = new Map<4 | 6, Socket[]>();
  readonly #pending = new Map<number, Pending>();
  readonly #inFlight = new Map<string, Promise<ForwardResult | null>>();
  #closed = false;

  constructor(upstreams: Upstream[], options: ForwarderOptions = {}) {
    this.#upstreams = upstreams;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#deadlineMs = options.deadlineMs ?? DEADLINE_MS;
    this.#onError = options.onError ?? (() => {});
  }

  /** The first usable answer to `name`/`type`/`klass` from the upstreams, or null when none gave one by the deadline. */
  resolve(name: string, type: string, klass: string): Promise<ForwardResult | null> {
    const key = `${type}|${klass}|${name.toLowerCase()}`;
    let p = this.#inFlight.get(key);
    if (!p) {
      p = this.#tryAll(name, type, klass).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, p);
    }
    return p;
  }

  async #tryAll(name: string, type: string, klass: string): Promise<ForwardResult | null> {
    const deadline = Date.now() + this.#deadlineMs;
    const left = () => deadline - Date.now();
    // An upstream that answered SERVFAIL or REFUSED is not asked again; a silent one may have lost the packet.
    let candidates = this.#upstreams;
    for (let pass = 0; pass < PASSES && candidates.length > 0; pass++) {
      const silent: Upstream[] = [];
      for (const upstream of candidates) {
        // A try with a few milliseconds left could not be answered in time (and timers fire a little early).
        if (this.#closed || left() < MIN_TRY_MS) return null;
        let answer = await this.#askUdp(upstream, name, type, klass, Math.min(this.#timeoutMs, left()));
        if (answer && answer.flag_tc) answer = left() > 0 ? await this.#askTcp(upstream, name, type, klass, Math.min(this.#timeoutMs, left())) : null;
        if (!answer) {
          silent.push(upstream);
          continue;
        }
        const rcode = rcodeOf(answer);
        if (rcode === "SERVFAIL" || rcode === "REFUSED") {
          this.#onError(upstream, rcode.toLowerCase());
          continue;
        }
        return { packet: answer, upstream };
      }
      candidates = silent;
    }
    return null;
  }

  #query(id: number, name: string, type: string, klass: string): Buffer {
    return packet.encode({
      type: "query",
      id,
      flags: packet.RECURSION_DESIRED,
      questions: [{ name, type: type as never, class: klass as never }],
      additionals: [{ type: "OPT", name: ".", udpPayloadSize: OUR_UDP_SIZE, flags: 0 } as never],
    });
  }

  #socket(family: 4 | 6): Socket {
    let pool = this.#sockets.get(family);
    if (!pool) this.#sockets.set(family, (pool = []));
    const i = randomInt(0, SOCKETS);
    let s = pool[i];
    if (s) return s;
    s = createSocket(family === 4 ? "udp4" : "udp6");
    s.on("message", (msg, rinfo) => this.#onMessage(msg, rinfo.address, rinfo.port));
    s.on("error", () => {});
    s.unref();
    pool[i] = s;
    return s;
  }

  #onMessage(msg: Buffer, address: string, port: number): void {
    if (msg.length < 12) return;
    const p = this.#pending.get(msg.readUInt16BE(0));
    if (!p || p.upstream.host !== address || p.upstream.port !== port) return;
    let decoded: DecodedPacket;
    try {
      decoded = packet.decode(msg);
    } catch {
      return; // Not a DNS message: keep waiting for the real answer.
    }
    const q = decoded.questions?.[0];
    if (decoded.type !== "response" || !q || q.name.toLowerCase() !== p.name.toLowerCase() || q.type !== p.type) return;
    clearTimeout(p.timer);
    this.#pending.delete(msg.readUInt16BE(0));
    p.resolve(decoded);
  }

  #askUdp(upstream: Upstream, name: string, type: string, klass: string, timeoutMs: number): Promise<DecodedPacket | null> {
    let id = randomInt(0, 65536);
    while (this.#pending.has(id)) id = (id + 1) & 0xffff;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.#onError(upstream, "timeout");
        resolve(null);
      }, timeoutMs);
      this.#pending.set(id, { resolve, upstream, name, type, timer });
      const family = isIP(upstream.host) === 6 ? 6 : 4;
      this.#socket(family).send(this.#query(id, name, type, klass), upstream.port, upstream.host, (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.#pending.delete(id);
        this.#onError(upstream, "send");
        resolve(null);
      });
    });
  }

  #askTcp(upstream: Upstream, name: string, type: string, klass: string, timeoutMs: number): Promise<DecodedPacket | null> {
    const id = randomInt(0, 65536);
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let done = false;
      const finish = (p: DecodedPacket | null, reason?: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        if (p === null) this.#onError(upstream, reason ?? "tcp");
        resolve(p);
      };
      const sock = connect({ host: upstream.host, port: upstream.port });
      const timer = setTimeout(() => finish(null, "timeout"), timeoutMs);
      sock.on("connect", () => {
        const query = this.#query(id, name, type, klass);
        const length = Buffer.alloc(2);
        length.writeUInt16BE(query.length);
        sock.write(Buffer.concat([length, query]));
      });
      sock.on("data", (d) => {
        chunks.push(d);
        const all = Buffer.concat(chunks);
        if (all.length < 2 || all.length < 2 + all.readUInt16BE(0)) return;
        try {
          const p = packet.decode(all.subarray(2, 2 + all.readUInt16BE(0)));
          finish(p.id === id ? p : null, "malformed");
        } catch {
          finish(null, "malformed");
        }
      });
      sock.on("error", () => finish(null, "tcp"));
      sock.on("close", () => finish(null, "tcp"));
    });
  }

  /** Stops listening; questions in flight resolve to null. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(id);
      p.resolve(null);
    }
    for (const pool of this.#sockets.values()) for (const s of pool) s?.close();
    this.#sockets.clear();
  }
}

/** The response code dns-packet decoded (its typings leave the field out). */
export function rcodeOf(p: DecodedPacket): string {
  return (p as DecodedPacket & { rcode: string }).rcode;
}
