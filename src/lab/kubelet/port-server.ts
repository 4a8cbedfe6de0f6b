/**
 * The built-in server a lab container runs when its image is not in the
 * catalog and the pod gives no command (images.ts): it listens on every
 * declared containerPort and answers each client with one line naming the
 * pod and the client address it sees, so a Deployment of `nginx` answers
 * and shows whether the client's address was kept (no NAT between pods):
 *
 *     pod=web-7d9c5-xk2lp client=10.244.2.5:41234
 *
 * TCP: an HTTP request gets that line as a 200 response body; any other
 * client gets the line as soon as it connects and has sent nothing for
 * 100 ms, or once it sends a first non-HTTP line. UDP: every datagram is
 * answered with the line.
 *
 *     weft-port-server --pod NAME [--port PORT/tcp|udp]...
 *
 * Without ports it just waits, like a pause container. SIGTERM ends it
 * with status 0, as a server's clean stop.
 *
 * It is compiled like the CNI plugin (scripts/build.ts): bytecode in the
 * QuickJS host (src/sys/qjs-host.c), one poll(2) loop over its sockets.
 * Every pod of such an image runs one, so what one costs counts: a 2.3 MB
 * static executable that starts in about 1 ms of CPU with ~1 MB resident,
 * where the bun-compiled server it replaces took about 7 ms and 36 MB.
 */
import { host as sys } from "../../sys/qjs-host.ts";
import { SysError } from "../../sys/syscalls.ts";

const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SHUT_WR = 1;
const POLLIN = 1;
const EINTR = 4;
const EAGAIN = 11;
const ENOMEM = 12;
const ENFILE = 23;
const EMFILE = 24;
const ECONNABORTED = 103;
const ENOBUFS = 105;
const EADDRINUSE = 98;
const SIGPIPE = 13;
const SIGTERM = 15;
/** How long the listeners rest after an accept fails for want of a descriptor or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), instead of failing again at once. */
const ACCEPT_REST_MS = 100;

const HTTP_METHOD = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE) /;
/** How long a client that has sent nothing waits for its line. */
const QUIET_MS = 100;
/** How long an answered client may take to close its side before it is closed on (its unread data would turn our FIN into a reset). */
const LINGER_MS = 5000;
/** What a client may send before it is answered anyway. */
const MAX_REQUEST = 16 * 1024;

interface Client {
  text: string;
  seen: string;
  /** Answered, and its side being read until it closes. */
  answered: boolean;
  /** When it is answered (quiet) or closed (answered). */
  deadline: number;
}

let pod = "";
/** Until when the TCP listeners are left out of the poll (ACCEPT_REST_MS). */
let acceptRestUntil = 0;
const tcp: number[] = [];
const udp: number[] = [];
const clients = new Map<number, Client>();
const utf8 = (s: string) => sys.encodeUtf8(s);

function print(fd: number, text: string): void {
  sys.write(fd, utf8(text));
}

function fail(message: string): never {
  print(2, `port-server: ${message}\n`);
  return sys.exit(1);
}

/** A failed call's message, its errno named as weft names them (syscalls.ts). */
function failed(what: string, rc: number): string {
  return new SysError(what, -rc).message;
}

function line(addr: Uint8Array): string {
  if (addr[0] !== AF_INET || addr[1] !== 0) return `pod=${pod} client=?:0\n`;
  return `pod=${pod} client=${addr[4]}.${addr[5]}.${addr[6]}.${addr[7]}:${(addr[2]! << 8) | addr[3]!}\n`;
}

/** A struct sockaddr_in for 0.0.0.0:port. */
function anyAddress(port: number): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = AF_INET;
  a[2] = port >> 8;
  a[3] = port & 255;
  return a;
}

function listen(port: number, kind: "tcp" | "udp"): void {
  const label = `${kind.toUpperCase()} ${port}`;
  const fd = sys.socket(AF_INET, (kind === "tcp" ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(`${label}: ${failed("socket", fd)}`);
  const one = new Uint8Array([1, 0, 0, 0]);
  sys.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one);
  const rc = sys.bind(fd, anyAddress(port));
  if (rc < 0) fail(`${label}: ${rc === -EADDRINUSE ? "bind: address already in use" : failed("bind", rc)}`);
  if (kind === "tcp") {
    const l = sys.listen(fd, 511);
    if (l < 0) fail(`${label}: ${failed("listen", l)}`);
    tcp.push(fd);
  } else {
    udp.push(fd);
  }
  print(1, `port-server: ${pod} listening on ${label}\n`);
}

function answer(fd: number, c: Client, reply: string, now: number): void {
  sys.write(fd, utf8(reply));
  sys.shutdown(fd, SHUT_WR);
  c.answered = true;
  c.deadline = now + LINGER_MS;
}

function close(fd: number): void {
  clients.delete(fd);
  sys.close(fd);
}

const addr = new Uint8Array(128);
const buf = new Uint8Array(4096);

function accept(listener: number, now: number): void {
  for (;;) {
    const fd = sys.accept4(listener, addr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      clients.set(fd, { text: line(addr), seen: "", answered: false, deadline: now + QUIET_MS });
      continue;
    }
    // EAGAIN: none left. A connection that failed before it was accepted: the next one. Out of descriptors or memory: rest.
    if (fd === -EMFILE || fd === -ENFILE || fd === -ENOBUFS || fd === -ENOMEM) acceptRestUntil = now + ACCEPT_REST_MS;
    else if (fd === -ECONNABORTED || fd === -EINTR) continue;
    return;
  }
}

function datagrams(fd: number): void {
  for (;;) {
    const n = sys.recvfrom(fd, buf, addr);
    if (n < 0) return;
    sys.sendto(fd, utf8(line(addr)), addr.subarray(0, 16));
  }
}

function readClient(fd: number, c: Client, now: number): void {
  const n = sys.read(fd, buf);
  if (n === -EAGAIN || n === -EINTR) return;
  if (n <= 0) {
    // The client closed its side (or failed): answer one that never got its line, then close.
    if (!c.answered && n === 0) sys.write(fd, utf8(c.text));
    return close(fd);
  }
  if (c.answered) return;
  c.seen += sys.decode(buf.subarray(0, n), true);
  if (HTTP_METHOD.test(c.seen)) {
    if (!c.seen.includes("\r\n\r\n") && c.seen.length < MAX_REQUEST) return;
    const body = c.seen.startsWith("HEAD ") ? "" : c.text;
    answer(fd, c, `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${utf8(c.text).length}\r\nConnection: close\r\n\r\n${body}`, now);
  } else if (c.seen.includes("\n") || c.seen.length > 16) {
    answer(fd, c, c.text, now);
  }
}

function serve(): never {
  for (;;) {
    const before = sys.now();
    const resting = acceptRestUntil > before;
    const fds = [...(resting ? [] : tcp), ...udp, ...clients.keys()];
    const polls = new Uint8Array(fds.length * 8);
    const view = new DataView(polls.buffer);
    for (let i = 0; i < fds.length; i++) {
      view.setInt32(i * 8, fds[i]!, true);
      view.setInt16(i * 8 + 4, POLLIN, true);
    }
    let next = resting ? acceptRestUntil : Infinity;
    for (const c of clients.values()) if (c.deadline < next) next = c.deadline;
    const wait = next === Infinity ? -1 : Math.max(0, Math.ceil(next - before));
    const n = sys.poll(polls, wait);
    if (n < 0 && n !== -EINTR) fail(failed("poll", n));
    const now = sys.now();
    for (let i = 0; i < fds.length; i++) {
      if (view.getInt16(i * 8 + 6, true) === 0) continue;
      const fd = fds[i]!;
      if (tcp.includes(fd)) accept(fd, now);
      else if (udp.includes(fd)) datagrams(fd);
      else {
        const c = clients.get(fd);
        if (c) readClient(fd, c, now);
      }
    }
    for (const [fd, c] of clients) {
      if (c.deadline > now) continue;
      if (c.answered) close(fd);
      else answer(fd, c, c.text, now);
    }
  }
}

sys.exitOnSignal(SIGTERM, 0);
// A write to a client that reset is an EPIPE error, not the end of the server.
sys.ignoreSignal(SIGPIPE);
const args = sys.argv().slice(1);
const ports: { port: number; kind: "tcp" | "udp" }[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  const value = args[i + 1];
  if (a === "--pod" && value !== undefined) {
    pod = value;
    i++;
  } else if (a === "--port" && value !== undefined) {
    const m = /^(\d{1,5})\/(tcp|udp)$/.exec(value);
    const port = Number(m?.[1]);
    if (!m || port < 1 || port > 65535) fail(`invalid --port "${value}" (use PORT/tcp or PORT/udp)`);
    ports.push({ port, kind: m[2] as "tcp" | "udp" });
    i++;
  } else {
    fail(`unknown argument "${a}" (usage: weft-port-server --pod NAME [--port PORT/tcp|udp]...)`);
  }
}
for (const p of ports) listen(p.port, p.kind);
serve();
