/**
 * The kubelet API on NODE_IP:10250, over TLS with the node's serving
 * certificate. Clients must present a certificate signed by the lab CA
 * (the API server's kubelet client certificate); others fail the TLS
 * handshake. Served:
 *
 *   GET /healthz
 *   GET /containerLogs/NS/POD/CONTAINER?follow&previous&tailLines&limitBytes&sinceSeconds
 *   GET /exec/NS/POD/CONTAINER?command=...&input=1&output=1&error=1&tty=1
 *   GET /attach/NS/POD/CONTAINER?input=1&output=1&error=1
 *       as a WebSocket (remotecommand.ts); a plain request (SPDY, which
 *       the API server only sends to nodes that do not declare
 *       ExtendWebSocketsToKubelet) gets 400
 *   GET /portForward/NS/POD[/UID]
 *       SPDY/3.1 (spdy.ts, portforward.ts), either tunnelled in a WebSocket
 *       (subprotocol SPDY/3.1+portforward.k8s.io, what kubectl sends first
 *       and the API server passes through to this node) or on the
 *       connection itself after `Upgrade: SPDY/3.1` (kubectl's fallback)
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, createWriteStream, existsSync, openSync, readFileSync, readlinkSync, readSync, statSync, type WriteStream } from "node:fs";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { sleep } from "../../lib/sleep.ts";
import type { KubeletConfig } from "./config.ts";
import { containerLog } from "./containers.ts";
import { execArgv, hostTool, shq } from "./launch.ts";
import type { ContainerRecord } from "./records.ts";
import { portForwardStreams, type ForwardTarget } from "./portforward.ts";
import { SpdySession } from "./spdy.ts";
import { chooseProtocol, decodeClientMessage, ERROR, exitStatusJson, failureStatusJson, frame, STDERR, STDIN, STDOUT } from "./remotecommand.ts";

/** What the server needs of a pod: its identity, its sandbox, and its containers' records. */
export interface ServedPod {
  readonly pod: { namespace: string; name: string; uid: string };
  /** Where the pod's network is, once it has one (network non-null). */
  readonly record: { netns: string; hostNetwork: boolean; network: string | null } | null;
  container(name: string): ContainerRecord | undefined;
  /** Resolves true once a container's root is ready for exec, false when it is not running or not ready in time (PodWorker.started); never rejects. */
  started(c: ContainerRecord): Promise<boolean>;
}

export interface ServerDeps {
  find(namespace: string, name: string): ServedPod | undefined;
  logsDir: string;
  log(message: string): void;
}

export interface KubeletServer {
  /** The port it listens on (the configured one, or the one the kernel chose for 0). */
  port: number;
  close(): Promise<void>;
}

/** Starts the server; resolves once it listens. */
export async function startKubeletServer(cfg: Pick<KubeletConfig, "tlsCert" | "tlsKey" | "clientCa" | "port"> & { node: { underlayIp: string } }, deps: ServerDeps): Promise<KubeletServer> {
  const server: Server = createServer(
    { cert: readFileSync(cfg.tlsCert), key: readFileSync(cfg.tlsKey), ca: readFileSync(cfg.clientCa), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      handle(req, res, deps).catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, `internal error: ${(err as Error).message}`);
        else res.destroy();
      });
    },
  );
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => chooseProtocol(offered) ?? false });
  // The tunnel's subprotocol holds a "/", which the ws library refuses as a token: the header is taken
  // off the request before ws sees it, checked here, and put back on the response.
  const tunnels = new WebSocketServer({ noServer: true });
  tunnels.on("headers", (headers: string[]) => headers.push(`Sec-WebSocket-Protocol: ${PORT_FORWARD_TUNNEL}`));
  /** Exec upgrades waiting for their container's root (below), and whether close() has begun. */
  const pending = new Set<Duplex>();
  let closing = false;
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "https://kubelet");
    const refuse = (code: number, msg: string) =>
      socket.end(`HTTP/1.1 ${code} ${code === 404 ? "Not Found" : "Bad Request"}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(msg)}\r\n\r\n${msg}`);
    const forward = parsePortForward(url);
    if (forward) {
      const worker = deps.find(forward.namespace, forward.pod);
      const record = worker?.record;
      if (!worker || !record || record.network === null) return refuse(404, worker ? `pod ${forward.namespace}/${forward.pod} has no sandbox yet` : `pod ${forward.namespace}/${forward.pod} is not on this node`);
      const target: ForwardTarget = { ...worker.pod, netns: record.hostNetwork ? null : record.netns };
      const onStream = portForwardStreams(target, deps.log);
      if ((req.headers.upgrade ?? "").toLowerCase() === "websocket") {
        const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
        if (!offered.includes(PORT_FORWARD_TUNNEL)) return refuse(400, `port-forward over WebSocket needs the subprotocol ${PORT_FORWARD_TUNNEL}`);
        delete req.headers["sec-websocket-protocol"];
        tunnels.handleUpgrade(req, socket, head, (ws) => {
          const session = new SpdySession((b) => ws.send(b), () => ws.close(1000), onStream);
          ws.on("message", (data: Buffer) => session.receive(data));
          ws.once("close", () => session.end());
        });
        return;
      }
      if ((req.headers.upgrade ?? "").toLowerCase() !== "spdy/3.1") return refuse(400, "port-forward needs Upgrade: SPDY/3.1 or a WebSocket with subprotocol SPDY/3.1+portforward.k8s.io");
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${PORT_FORWARD_PROTOCOL}\r\n\r\n`);
      const session = new SpdySession((b) => socket.write(b), () => socket.end(), onStream);
      socket.on("data", (b: Buffer) => session.receive(b));
      socket.once("close", () => session.end());
      socket.on("error", () => session.end());
      if (head.length > 0) session.receive(head);
      return;
    }
    const exec = parse(url, "exec");
    const target = exec ?? parse(url, "attach");
    const found = target && lookup(deps, target);
    if (!found || typeof found === "string") return refuse(404, typeof found === "string" ? found : "not found");
    const answer = () => wss.handleUpgrade(req, socket, head, (ws) => (exec ? serveExec(ws, url, found.container, deps) : serveAttach(ws, url, found, deps)));
    if (!exec) return answer();
    // An exec waits for the container's root before the upgrade is answered, so nothing the client
    // sends is early. Node took its own error listener off the socket for the upgrade: until ws has
    // it, a reset (a Ctrl-C meanwhile) would be an uncaught error.
    pending.add(socket);
    socket.on("error", () => socket.destroy());
    const settle = () => {
      pending.delete(socket);
      if (socket.destroyed || closing) socket.destroy();
      else answer();
    };
    found.worker.started(found.container).then(settle, settle);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(cfg.port, cfg.node.underlayIp, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : cfg.port,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        for (const s of pending) s.destroy();
        for (const c of [...wss.clients, ...tunnels.clients]) c.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Target {
  namespace: string;
  pod: string;
  container: string;
}

/** The WebSocket subprotocol kubectl tunnels port-forward's SPDY in, and the protocol inside. */
const PORT_FORWARD_PROTOCOL = "portforward.k8s.io";
const PORT_FORWARD_TUNNEL = `SPDY/3.1+${PORT_FORWARD_PROTOCOL}`;

/** /portForward/NS/POD or /portForward/NS/POD/UID. */
function parsePortForward(url: URL): { namespace: string; pod: string } | null {
  const m = /^\/portForward\/([^/]+)\/([^/]+)(?:\/[^/]+)?$/.exec(url.pathname);
  return m ? { namespace: decodeURIComponent(m[1]!), pod: decodeURIComponent(m[2]!) } : null;
}

function parse(url: URL, verb: string): Target | null {
  const m = new RegExp(`^/${verb}/([^/]+)/([^/]+)/([^/]+)$`).exec(url.pathname);
  return m ? { namespace: decodeURIComponent(m[1]!), pod: decodeURIComponent(m[2]!), container: decodeURIComponent(m[3]!) } : null;
}

function lookup(deps: ServerDeps, t: Target): { worker: ServedPod; container: ContainerRecord } | string {
  const worker = deps.find(t.namespace, t.pod);
  if (!worker) return `pod ${t.namespace}/${t.pod} is not on this node`;
  const container = worker.container(t.container);
  if (!container) return `container "${t.container}" in pod "${t.pod}" is not known`;
  return { worker, container };
}

function send(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { "Content-Type": "text/plain; charset=utf-8" });
  res.end(text.endsWith("\n") ? text : `${text}\n`);
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: ServerDeps): Promise<void> {
  const url = new URL(req.url ?? "/", "https://kubelet");
  if (url.pathname === "/healthz") return send(res, 200, "ok");
  if (url.pathname.startsWith("/exec/") || url.pathname.startsWith("/attach/")) {
    return send(res, 400, "this kubelet serves exec and attach over WebSocket (v5.channel.k8s.io) only");
  }
  if (url.pathname.startsWith("/portForward/")) return send(res, 400, "port-forward needs an upgrade: SPDY/3.1, or a WebSocket with subprotocol SPDY/3.1+portforward.k8s.io");
  const t = parse(url, "containerLogs");
  if (!t) return send(res, 404, "not found");
  const found = lookup(deps, t);
  if (typeof found === "string") return send(res, 404, found);
  await serveLogs(req, res, url, t, found, deps);
}

/** Streams a container's log (the current run, or the one before with ?previous). */
async function serveLogs(req: IncomingMessage, res: ServerResponse, url: URL, t: Target, found: { worker: ServedPod; container: ContainerRecord }, deps: ServerDeps): Promise<void> {
  const c = found.container;
  const previous = url.searchParams.get("previous") === "true";
  const run = previous ? c.restartCount - 1 : c.restartCount;
  if (run < 0) {
    return send(res, 400, previous ? `previous terminated container "${t.container}" in pod "${t.pod}" not found` : `container "${t.container}" in pod "${t.pod}" is waiting to start: ContainerCreating`);
  }
  const pod = found.worker.pod;
  const path = containerLog(deps.logsDir, pod, c.name, run);
  const follow = url.searchParams.get("follow") === "true" && !previous;
  const tail = url.searchParams.has("tailLines") ? Number(url.searchParams.get("tailLines")) : null;
  let limit = url.searchParams.has("limitBytes") ? Number(url.searchParams.get("limitBytes")) : Infinity;
  let offset = 0;
  let size = 0;
  try {
    size = statSync(path).size;
  } catch {
    // Nothing logged yet.
  }
  if (tail !== null && tail >= 0) offset = tailOffset(path, size, tail);
  res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
  let closed = false;
  req.on("close", () => (closed = true));
  for (;;) {
    let now = 0;
    try {
      now = statSync(path).size;
    } catch {
      // Not there yet.
    }
    if (now > offset && limit > 0) {
      const n = Math.min(now - offset, limit, 1 << 20);
      const buf = Buffer.alloc(n);
      const fd = openSync(path, "r");
      try {
        readSync(fd, buf, 0, n, offset);
      } finally {
        closeSync(fd);
      }
      offset += n;
      limit -= n;
      if (!res.write(buf)) await new Promise((r) => res.once("drain", r));
      continue;
    }
    // Follow until this run of the container has ended and its log is read.
    const live = found.worker.container(c.name);
    const sameRun = live !== undefined && live.restartCount === run && live.terminated === null;
    if (!follow || closed || limit <= 0 || !sameRun) break;
    await sleep(200);
  }
  res.end();
}

/** Where the last `lines` lines of `path` (of `size` bytes) start. */
export function tailOffset(path: string, size: number, lines: number): number {
  if (size === 0) return 0;
  const fd = openSync(path, "r");
  try {
    let pos = size;
    let seen = 0;
    const buf = Buffer.alloc(65536);
    // A final newline ends the last line rather than starting another.
    let skipFirst = true;
    while (pos > 0) {
      const n = Math.min(buf.length, pos);
      pos -= n;
      readSync(fd, buf, 0, n, pos);
      for (let i = n - 1; i >= 0; i--) {
        if (buf[i] !== 0x0a) {
          skipFirst = false;
          continue;
        }
        if (skipFirst) {
          skipFirst = false;
          continue;
        }
        if (++seen > lines - 1 && lines > 0) return pos + i + 1;
        if (lines === 0) return size;
      }
    }
    return lines === 0 ? size : 0;
  } finally {
    closeSync(fd);
  }
}

/** Runs one exec session over an upgraded WebSocket. */
function serveExec(ws: WebSocket, url: URL, c: ContainerRecord, deps: ServerDeps): void {
  const v5 = ws.protocol === "v5.channel.k8s.io";
  const command = url.searchParams.getAll("command");
  const stdin = url.searchParams.get("input") === "1";
  const stdout = url.searchParams.get("output") === "1";
  const stderr = url.searchParams.get("error") === "1";
  const tty = url.searchParams.get("tty") === "1";
  ws.send(frame(stdout ? STDOUT : stderr ? STDERR : ERROR));
  if (c.pid === null || command.length === 0) {
    ws.send(frame(ERROR, failureStatusJson(c.pid === null ? `container ${c.name} is not running` : "no command given")));
    ws.close(1000);
    return;
  }
  const inner = execArgv(c.pid, c.rootfs, c.workingDir, command);
  // A terminal comes from script(1): the command runs on a pty it allocates, whose output is script's stdout.
  const argv = tty ? [hostTool("script"), "-qfec", inner.map(shq).join(" "), "/dev/null"] : inner;
  const env = tty ? { ...c.env, TERM: c.env.TERM ?? "xterm" } : c.env;
  let child: ChildProcess;
  try {
    child = spawn(argv[0]!, argv.slice(1), { stdio: [stdin ? "pipe" : "ignore", "pipe", "pipe"], env });
  } catch (err) {
    ws.send(frame(ERROR, failureStatusJson((err as Error).message)));
    ws.close(1000);
    return;
  }
  deps.log(`exec in ${c.name}: ${JSON.stringify(command)}${tty ? " (tty)" : ""}`);
  const outputs: Promise<void>[] = [];
  const pipe = (stream: NodeJS.ReadableStream | null, channel: number, wanted: boolean) => {
    if (!stream) return;
    outputs.push(
      new Promise((resolve) => {
        stream.on("data", (b: Buffer) => {
          if (wanted && ws.readyState === ws.OPEN) ws.send(frame(channel, b));
        });
        stream.once("end", () => resolve());
        stream.once("error", () => resolve());
      }),
    );
  };
  pipe(child.stdout, STDOUT, stdout);
  pipe(child.stderr, tty ? STDOUT : STDERR, tty ? stdout : stderr);
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    const msg = decodeClientMessage(isBinary ? data : Buffer.from(data), v5);
    if (msg.kind === "stdin" && child.stdin && !child.stdin.writableEnded) child.stdin.write(msg.data);
    else if (msg.kind === "close" && msg.channel === STDIN) child.stdin?.end();
    else if (msg.kind === "resize" && tty && child.pid !== undefined) resizePty(child.pid, msg.width, msg.height);
  });
  child.stdin?.on("error", () => {});
  ws.on("close", () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const exited = new Promise<number>((resolve) => {
    child.once("error", () => resolve(126));
    // A command a signal ended exits 128 + its number, as a shell (and a runtime's exec) reports it.
    child.once("exit", (code, sig) => resolve(code ?? (sig ? 128 + (constants.signals[sig] ?? 0) : 1)));
  });
  void exited.then(async (code) => {
    await Promise.all(outputs);
    if (ws.readyState === ws.OPEN) {
      ws.send(frame(ERROR, exitStatusJson(command, code)));
      ws.close(1000);
    }
  });
}

/** How often an attach session looks for new output of the container. */
const ATTACH_POLL_MS = 100;

/**
 * Attaches to a running container over an upgraded WebSocket: what it
 * writes from now on (its log, stdout and stderr together, as one stream
 * on the first output channel asked for), and, with input=1 and a
 * container made with `stdin: true`, the client's stdin into the
 * container's stdin FIFO (launch.ts). The session ends with a Success
 * status when this run of the container ends.
 */
function serveAttach(ws: WebSocket, url: URL, found: { worker: ServedPod; container: ContainerRecord }, deps: ServerDeps): void {
  const v5 = ws.protocol === "v5.channel.k8s.io";
  const wantOut = url.searchParams.get("output") === "1";
  const wantErr = url.searchParams.get("error") === "1";
  const channel = wantOut ? STDOUT : wantErr ? STDERR : null;
  ws.send(frame(channel ?? ERROR));
  const c = found.container;
  if (c.pid === null) {
    ws.send(frame(ERROR, failureStatusJson(`container ${c.name} is not running`)));
    ws.close(1000);
    return;
  }
  deps.log(`attach to ${found.worker.pod.namespace}/${found.worker.pod.name} ${c.name}`);
  const run = c.restartCount;
  const log = containerLog(deps.logsDir, found.worker.pod, c.name, run);
  const sizeOf = () => {
    try {
      return statSync(log).size;
    } catch {
      return 0;
    }
  };
  let offset = sizeOf();
  let stdin: WriteStream | null = null;
  const fifo = join(dirname(c.rootfs), "stdin");
  if (url.searchParams.get("input") === "1" && existsSync(fifo)) {
    // Read-write, so opening never waits for a reader; the container holds the other end.
    stdin = createWriteStream(fifo, { flags: "r+" });
    stdin.on("error", () => {});
  }
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    const msg = decodeClientMessage(isBinary ? data : Buffer.from(data), v5);
    if (msg.kind === "stdin") stdin?.write(msg.data);
    else if (msg.kind === "close" && msg.channel === STDIN) stdin?.end();
  });
  const follow = async () => {
    while (ws.readyState === ws.OPEN) {
      const now = sizeOf();
      if (now > offset) {
        const n = Math.min(now - offset, 1 << 20);
        const buf = Buffer.alloc(n);
        const fd = openSync(log, "r");
        try {
          readSync(fd, buf, 0, n, offset);
        } finally {
          closeSync(fd);
        }
        offset += n;
        if (channel !== null) ws.send(frame(channel, buf));
        continue;
      }
      const live = found.worker.container(c.name);
      if (live === undefined || live.restartCount !== run || live.terminated !== null) {
        ws.send(frame(ERROR, JSON.stringify({ metadata: {}, status: "Success" })));
        ws.close(1000);
        return;
      }
      await sleep(ATTACH_POLL_MS);
    }
  };
  ws.once("close", () => stdin?.end());
  void follow();
}

/** Sets the window size of the pty script(1) made for the session led by `scriptPid`. */
function resizePty(scriptPid: number, width: number, height: number): void {
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${scriptPid}/task/${scriptPid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
  } catch {
    return;
  }
  for (const pid of children) {
    let tty: string;
    try {
      tty = readlinkSync(`/proc/${pid}/fd/0`);
    } catch {
      continue;
    }
    if (tty.startsWith("/dev/pts/")) {
      spawnSync(hostTool("stty"), ["-F", tty, "rows", String(height), "cols", String(width)], { stdio: "ignore" });
      return;
    }
  }
}
