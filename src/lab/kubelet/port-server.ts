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
 *     node port-server.ts --pod NAME [--port PORT/tcp|udp]...
 *
 * Without ports it just waits, like a pause container.
 */
import { createSocket } from "node:dgram";
import { createServer, type Socket } from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { pod: { type: "string", default: "" }, port: { type: "string", multiple: true, default: [] } } });
const pod = values.pod;
const HTTP_METHOD = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE) /;
const QUIET_MS = 100;

function line(address: string | undefined, port: number | undefined): string {
  return `pod=${pod} client=${address ?? "?"}:${port ?? 0}\n`;
}

function serveTcp(port: number): void {
  const server = createServer((socket: Socket) => {
    socket.on("error", () => {});
    const text = line(socket.remoteAddress, socket.remotePort);
    let seen = "";
    const quiet = setTimeout(() => socket.end(text), QUIET_MS);
    socket.on("data", (chunk: Buffer) => {
      seen += chunk.toString("latin1");
      if (HTTP_METHOD.test(seen)) {
        if (!seen.includes("\r\n\r\n")) return;
        clearTimeout(quiet);
        const body = seen.startsWith("HEAD ") ? "" : text;
        socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${body}`);
      } else if (seen.includes("\n") || seen.length > 16) {
        clearTimeout(quiet);
        socket.end(text);
      }
    });
  });
  server.on("error", (err) => fail(`TCP ${port}: ${err.message}`));
  server.listen(port, "0.0.0.0", () => process.stdout.write(`port-server: ${pod} listening on TCP ${port}\n`));
}

function serveUdp(port: number): void {
  const socket = createSocket("udp4");
  socket.on("message", (_msg, rinfo) => socket.send(line(rinfo.address, rinfo.port), rinfo.port, rinfo.address));
  socket.on("error", (err) => fail(`UDP ${port}: ${err.message}`));
  socket.bind(port, "0.0.0.0", () => process.stdout.write(`port-server: ${pod} listening on UDP ${port}\n`));
}

function fail(message: string): never {
  process.stderr.write(`port-server: ${message}\n`);
  process.exit(1);
}

for (const spec of values.port) {
  const m = /^(\d{1,5})\/(tcp|udp)$/.exec(spec);
  const port = Number(m?.[1]);
  if (!m || port < 1 || port > 65535) fail(`invalid --port "${spec}" (use PORT/tcp or PORT/udp)`);
  if (m[2] === "tcp") serveTcp(port);
  else serveUdp(port);
}
if (values.port.length === 0) setInterval(() => {}, 1 << 30);
process.on("SIGTERM", () => process.exit(0));
