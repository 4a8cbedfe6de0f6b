/**
 * `kubectl port-forward` on the kubelet side (the portforward.k8s.io
 * protocol over a SPDY session, spdy.ts). For every local connection the
 * client opens two streams with the same `requestID` header: an "error"
 * stream and a "data" stream, each naming the pod `port`. Once both are
 * there, the kubelet connects to that port on 127.0.0.1 inside the pod's
 * network namespace and copies bytes both ways; a half-close travels as
 * FIN. A connection that cannot be made is reported as text on the error
 * stream, which kubectl prints ("an error occurred forwarding ...").
 *
 * The kubelet lives in the node's namespace and Node.js cannot enter
 * another one, so the connection is made by a small relay process started
 * in the pod's namespace (`nsenter --net`), the kubelet's own Node.js
 * running the script below: its stdin and stdout are the connection's two
 * directions. A hostNetwork pod's port is the node's, reached directly.
 */
import { spawn } from "node:child_process";
import { connect } from "node:net";
import type { Duplex, Readable, Writable } from "node:stream";
import { hostTool } from "./launch.ts";
import type { SpdyStream } from "./spdy.ts";

/** The pod a port-forward session reaches. */
export interface ForwardTarget {
  namespace: string;
  name: string;
  uid: string;
  /** The pod's network namespace (under /run/netns), or null for a hostNetwork pod. */
  netns: string | null;
}

/** How long the second stream of a pair may lag the first (kubelet: the stream creation timeout, 30 s). */
const PAIR_TIMEOUT_MS = 30_000;

/**
 * The relay run in the pod's namespace: connects to 127.0.0.1:PORT, pipes
 * stdin to it and it to stdout; a failure to connect is its stderr and
 * exit status 1.
 */
const RELAY = [
  'const s = require("node:net").connect(Number(process.argv[1]), "127.0.0.1");',
  's.once("connect", () => { process.stdin.pipe(s); s.pipe(process.stdout); });',
  's.once("error", (e) => { process.stderr.write(e.message); process.exit(1); });',
].join("\n");

/** Handles the streams of one port-forward session; returns the per-stream handler. */
export function portForwardStreams(target: ForwardTarget, log: (m: string) => void): (s: SpdyStream) => void {
  const pairs = new Map<string, { error?: SpdyStream; data?: SpdyStream; timer: NodeJS.Timeout }>();
  return (stream) => {
    const type = stream.headers.get("streamtype");
    const portText = stream.headers.get("port") ?? "";
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : 0;
    // Old clients send no requestID: their streams of one connection have consecutive odd ids (kubelet's rule).
    const requestId = stream.headers.get("requestid") ?? String(type === "data" ? stream.id - 2 : stream.id);
    if ((type !== "error" && type !== "data") || port < 1 || port > 65535) {
      stream.write(`invalid port-forward stream: streamType "${type ?? ""}", port "${portText}"`);
      stream.end();
      return;
    }
    let pair = pairs.get(requestId);
    if (!pair) {
      const timer = setTimeout(() => {
        pairs.delete(requestId);
        pair?.error?.write(`timed out waiting for the data stream of request ${requestId}`);
        pair?.error?.end();
        pair?.data?.reset();
      }, PAIR_TIMEOUT_MS);
      timer.unref();
      pair = { timer };
      pairs.set(requestId, pair);
    }
    pair[type] = stream;
    if (!pair.error || !pair.data) return;
    clearTimeout(pair.timer);
    pairs.delete(requestId);
    forward(target, port, pair.data, pair.error, log);
  };
}

function forward(target: ForwardTarget, port: number, data: SpdyStream, error: SpdyStream, log: (m: string) => void): void {
  const fail = (message: string) => {
    error.write(`error forwarding port ${port} to pod ${target.name}, uid ${target.uid}: ${message}`);
    error.end();
    data.end();
  };
  let input: Writable;
  let output: Readable;
  let stop: () => void;
  let failed: Promise<string | null>;
  if (target.netns === null) {
    const socket: Duplex = connect(port, "127.0.0.1");
    input = socket;
    output = socket;
    stop = () => socket.destroy();
    failed = new Promise((resolve) => {
      socket.once("connect", () => resolve(null));
      socket.once("error", (e) => resolve(e.message));
    });
  } else {
    const child = spawn(hostTool("nsenter"), [`--net=/run/netns/${target.netns}`, "--", process.execPath, "-e", RELAY, String(port)], { stdio: ["pipe", "pipe", "pipe"] });
    input = child.stdin;
    output = child.stdout;
    stop = () => child.kill("SIGKILL");
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    failed = new Promise((resolve) => {
      child.once("error", (e) => resolve(e.message));
      child.once("exit", (code) => resolve(code === 0 ? null : stderr.trim() || `relay exited with ${code}`));
    });
  }
  void failed.then((message) => {
    if (message !== null) fail(message);
  });
  input.on("error", () => {});
  output.on("data", (b: Buffer) => data.write(b));
  output.once("end", () => data.end());
  data.on("data", (b: Buffer) => input.write(b));
  data.once("end", () => input.end());
  data.once("close", stop);
  error.once("close", stop);
  log(`port-forward to ${target.namespace}/${target.name}:${port}`);
}
