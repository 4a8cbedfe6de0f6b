/**
 * The service trace's probe client, run inside the source pod's namespace:
 * one TCP connection or one UDP datagram to HOST:PORT, so the node's
 * conntrack holds the translation the kernel chose for it. Prints one JSON
 * line and exits 0 whatever happened:
 *
 *   {"outcome": "connected"|"answered"|"sent"|"refused"|"timeout"|"error",
 *    "localPort": N|null, "ms": TIME, "error": TEXT|null}
 *
 * `sent` is a UDP datagram that got neither an answer nor a refusal within
 * the time (many UDP servers say nothing to a stray datagram).
 *
 *     node src/trace/service/probe-client.ts tcp|udp HOST PORT TIMEOUT_MS
 */
import { createSocket } from "node:dgram";
import { connect } from "node:net";

const [proto, host, portText, timeoutText] = process.argv.slice(2);
const port = Number(portText);
const timeout = Number(timeoutText);
const started = performance.now();
let localPort: number | null = null;

function done(outcome: string, error: string | null = null): never {
  const ms = Math.round((performance.now() - started) * 100) / 100;
  process.stdout.write(JSON.stringify({ outcome, localPort, ms, error }) + "\n");
  process.exit(0);
}

const failed = (err: NodeJS.ErrnoException) => done(err.code === "ECONNREFUSED" ? "refused" : "error", err.message);

if (proto === "tcp") {
  const socket = connect({ host: host!, port });
  socket.on("connect", () => {
    localPort = socket.localPort ?? null;
    done("connected");
  });
  socket.on("error", failed);
  // The local port is bound once the SYN leaves; keep it for a connection that never completes.
  setImmediate(() => (localPort ??= socket.localPort ?? null));
  setTimeout(() => done("timeout"), timeout);
} else if (proto === "udp") {
  const socket = createSocket("udp4");
  socket.on("error", failed);
  socket.on("message", () => done("answered"));
  socket.connect(port, host!, () => {
    localPort = socket.address().port;
    socket.send("weft trace probe\n");
    setTimeout(() => done("sent"), timeout);
  });
} else {
  process.stdout.write(JSON.stringify({ outcome: "error", localPort: null, ms: 0, error: `unknown protocol ${proto}` }) + "\n");
}
