/**
 * The server side of a SPDY/3.1 session, as much of it as Kubernetes'
 * streaming protocols use (kubectl port-forward speaks it, through the API
 * server, to the kubelet): a byte stream of frames, each either
 *
 *   control  [1 | version 15 bits][type 16][flags 8][length 24] body
 *   data     [0 | stream id 31 bits][flags 8][length 24] payload
 *
 * The client opens streams with SYN_STREAM, whose header block is
 * zlib-compressed, one zlib stream per direction for the whole session,
 * primed with the protocol's dictionary. The server answers each with
 * SYN_REPLY (no headers), and both sides half-close a stream with the FIN
 * flag, or reset it with RST_STREAM. PINGs are echoed; SETTINGS and
 * WINDOW_UPDATE are accepted and ignored (the Go client, moby/spdystream,
 * does no flow control either).
 *
 * The session is transport-agnostic: bytes come in through receive() and go
 * out through the writer it is given, so it runs over an upgraded TCP
 * socket (Upgrade: SPDY/3.1) and over the binary messages of a WebSocket
 * (the SPDY/3.1+portforward.k8s.io subprotocol, which kubectl uses by
 * default since 1.31: it tunnels SPDY over WebSocket).
 */
import { EventEmitter } from "node:events";
import { constants, inflateSync } from "node:zlib";

const VERSION = 3;
const SYN_STREAM = 1;
const SYN_REPLY = 2;
const RST_STREAM = 3;
const PING = 6;
const GOAWAY = 7;
const HEADERS = 8;
const FLAG_FIN = 0x01;
/** RST_STREAM status: the stream is refused / cancelled. */
const RST_PROTOCOL_ERROR = 1;
const RST_CANCEL = 5;
/** The largest payload put in one data frame. */
const MAX_CHUNK = 32 * 1024;

/**
 * The header compression dictionary of SPDY/3 (draft 3, section 2.6.10.1):
 * these names, each as a 32-bit length and its bytes, then the tail as is.
 */
const DICTIONARY_WORDS = [
  "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding", "accept-language",
  "accept-ranges", "age", "allow", "authorization", "cache-control", "connection", "content-base", "content-encoding",
  "content-language", "content-length", "content-location", "content-md5", "content-range", "content-type", "date", "etag",
  "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
  "last-modified", "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
  "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
  "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive",
  "origin",
];
const DICTIONARY_TAIL =
  "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505" +
  "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized" +
  "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable" +
  "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT" +
  "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript," +
  "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

/** The dictionary's bytes. */
export const SPDY3_DICTIONARY: Buffer = Buffer.concat([
  ...DICTIONARY_WORDS.flatMap((w) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(w.length);
    return [len, Buffer.from(w, "latin1")];
  }),
  Buffer.from(DICTIONARY_TAIL, "latin1"),
]);

/** Adler-32, the checksum zlib names a preset dictionary by. */
export function adler32(data: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** An empty stored deflate block, what a sync flush writes. */
const SYNC_MARKER = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);

/**
 * Header blocks this side sends: one zlib stream made of stored (not
 * compressed) deflate blocks, which every inflater reads; the headers the
 * kubelet sends are a handful of bytes, so compressing them saves nothing.
 */
class HeaderEncoder {
  #started = false;

  encode(headers: Record<string, string>): Buffer {
    const parts: Buffer[] = [];
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return b;
    };
    const entries = Object.entries(headers);
    parts.push(u32(entries.length));
    for (const [k, v] of entries) {
      const name = Buffer.from(k.toLowerCase(), "utf8");
      const value = Buffer.from(v, "utf8");
      parts.push(u32(name.length), name, u32(value.length), value);
    }
    const raw = Buffer.concat(parts);
    const out: Buffer[] = [];
    if (!this.#started) {
      // CMF 0x78 (deflate, 32 KiB window), FLG 0x20 (a preset dictionary; 0x7820 is a multiple of 31), its Adler-32.
      out.push(Buffer.from([0x78, 0x20]), u32(adler32(SPDY3_DICTIONARY)));
      this.#started = true;
    }
    const len = Buffer.alloc(5);
    len[0] = 0x00; // BFINAL 0, BTYPE 00 (stored), padded to the byte
    len.writeUInt16LE(raw.length, 1);
    len.writeUInt16LE(~raw.length & 0xffff, 3);
    // Then an empty stored block, the sync-flush marker: Go's inflater hands out what a block gave only
    // at such a boundary, and would otherwise read past the header block for the next one.
    out.push(len, raw, SYNC_MARKER);
    return Buffer.concat(out);
  }
}

/**
 * Header blocks the client sends: one zlib stream for the session. Each
 * block is decoded by inflating everything received so far (with a sync
 * flush) and keeping the new output; header blocks are small and a port
 * forward session has a few per connection, so this stays cheap and is
 * synchronous, which keeps frames in order.
 */
class HeaderDecoder {
  #input: Buffer = Buffer.alloc(0);
  #seen = 0;

  decode(block: Buffer): Map<string, string> {
    this.#input = Buffer.concat([this.#input, block]);
    const all = inflateSync(this.#input, { dictionary: SPDY3_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH });
    const raw = all.subarray(this.#seen);
    this.#seen = all.length;
    const headers = new Map<string, string>();
    let at = 0;
    const read = () => {
      const n = raw.readUInt32BE(at);
      const s = raw.subarray(at + 4, at + 4 + n).toString("utf8");
      at += 4 + n;
      return s;
    };
    const count = raw.readUInt32BE(0);
    at = 4;
    for (let i = 0; i < count; i++) {
      const name = read();
      // Several values of one header are joined by NUL; the first is what Kubernetes reads.
      headers.set(name, read().split("\0")[0] ?? "");
    }
    return headers;
  }
}

/**
 * One stream the client opened. Events: "data" (Buffer), "end" (the client
 * half-closed it), "close" (reset by either side, or the session ended).
 */
export class SpdyStream extends EventEmitter {
  readonly id: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly #session: SpdySession;
  #finSent = false;
  #closed = false;

  constructor(session: SpdySession, id: number, headers: Map<string, string>) {
    super();
    this.#session = session;
    this.id = id;
    this.headers = headers;
  }

  /** Sends `data` on the stream (nothing once it is half-closed or reset). */
  write(data: Buffer | string): void {
    if (this.#finSent || this.#closed) return;
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    for (let at = 0; at < buf.length; at += MAX_CHUNK) this.#session.sendData(this.id, 0, buf.subarray(at, at + MAX_CHUNK));
  }

  /** Half-closes this side (FIN); idempotent. */
  end(): void {
    if (this.#finSent || this.#closed) return;
    this.#finSent = true;
    this.#session.sendData(this.id, FLAG_FIN, Buffer.alloc(0));
  }

  /** Resets the stream (RST_STREAM CANCEL) unless it is closed already. */
  reset(): void {
    if (this.#closed) return;
    this.#session.sendReset(this.id, RST_CANCEL);
    this.closed();
  }

  /** Marks the stream closed and tells its listeners once. */
  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#session.forget(this.id);
    this.emit("close");
  }
}

/** Error code: the client sent bytes that are not SPDY/3 frames. */
export const SPDY_PROTOCOL_ERROR = "SPDY_PROTOCOL_ERROR";

/** A server-side SPDY/3.1 session over some transport. */
export class SpdySession {
  readonly #send: (b: Buffer) => void;
  readonly #close: () => void;
  readonly #onStream: (s: SpdyStream) => void;
  readonly #streams = new Map<number, SpdyStream>();
  readonly #encoder = new HeaderEncoder();
  readonly #decoder = new HeaderDecoder();
  #buf: Buffer = Buffer.alloc(0);
  #ended = false;

  /** `send` writes bytes to the transport, `close` ends it; `onStream` is called for each stream the client opens. */
  constructor(send: (b: Buffer) => void, close: () => void, onStream: (s: SpdyStream) => void) {
    this.#send = send;
    this.#close = close;
    this.#onStream = onStream;
  }

  /** Bytes from the transport. A malformed frame ends the session. */
  receive(chunk: Buffer): void {
    if (this.#ended) return;
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    while (this.#buf.length >= 8 && !this.#ended) {
      const length = this.#buf.readUInt32BE(4) & 0xffffff;
      if (this.#buf.length < 8 + length) return;
      const head = this.#buf.readUInt32BE(0);
      const flags = this.#buf[4]!;
      const body = this.#buf.subarray(8, 8 + length);
      this.#buf = this.#buf.subarray(8 + length);
      try {
        if (head & 0x80000000) this.#control((head >>> 16) & 0x7fff, head & 0xffff, flags, body);
        else this.#data(head & 0x7fffffff, flags, body);
      } catch {
        this.end();
      }
    }
  }

  /** The transport is gone (or the session is ended): every stream is closed. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const s of [...this.#streams.values()]) s.closed();
    this.#close();
  }

  #control(version: number, type: number, flags: number, body: Buffer): void {
    if (version !== VERSION) throw new Error(`SPDY version ${version}`);
    switch (type) {
      case SYN_STREAM: {
        const id = body.readUInt32BE(0) & 0x7fffffff;
        const headers = this.#decoder.decode(body.subarray(10));
        if (this.#streams.has(id) || id === 0) {
          this.sendReset(id, RST_PROTOCOL_ERROR);
          return;
        }
        const stream = new SpdyStream(this, id, headers);
        this.#streams.set(id, stream);
        this.#sendControl(SYN_REPLY, 0, Buffer.concat([u32(id), this.#encoder.encode({})]));
        this.#onStream(stream);
        if (flags & FLAG_FIN) stream.emit("end");
        return;
      }
      case SYN_REPLY:
      case HEADERS:
        // Their header blocks still advance the session's zlib stream.
        this.#decoder.decode(body.subarray(4));
        return;
      case RST_STREAM:
        this.#streams.get(body.readUInt32BE(0) & 0x7fffffff)?.closed();
        return;
      case PING:
        this.#sendControl(PING, 0, body);
        return;
      case GOAWAY:
        this.end();
        return;
      default:
      // SETTINGS, WINDOW_UPDATE and anything newer: nothing to do.
    }
  }

  #data(id: number, flags: number, payload: Buffer): void {
    const stream = this.#streams.get(id);
    if (!stream) return;
    if (payload.length > 0) stream.emit("data", payload);
    if (flags & FLAG_FIN) stream.emit("end");
  }

  #sendControl(type: number, flags: number, body: Buffer): void {
    if (this.#ended) return;
    const head = Buffer.alloc(8);
    head.writeUInt32BE((0x80000000 | (VERSION << 16) | type) >>> 0, 0);
    head.writeUInt32BE(((flags << 24) | body.length) >>> 0, 4);
    this.#send(Buffer.concat([head, body]));
  }

  /** Sends a data frame (SpdyStream.write and end use it). */
  sendData(id: number, flags: number, payload: Buffer): void {
    if (this.#ended) return;
    const head = Buffer.alloc(8);
    head.writeUInt32BE(id & 0x7fffffff, 0);
    head.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
    this.#send(Buffer.concat([head, payload]));
  }

  /** Sends RST_STREAM for `id`. */
  sendReset(id: number, status: number): void {
    this.#sendControl(RST_STREAM, 0, Buffer.concat([u32(id), u32(status)]));
  }

  /** Drops a closed stream. */
  forget(id: number): void {
    this.#streams.delete(id);
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
