/**
 * The lab's outside host server: answers every TCP connection with the
 * source address it sees, as one line, and closes. A pod or node that
 * connects learns whether its traffic was masqueraded on the way out
 * (it reads its node's underlay IP) or not (it reads its own IP).
 *
 *     node src/lab/echo-source.ts [--port PORT (default 8080)]
 *
 * Run by the lab's supervisor inside NAME-outside; also usable as a pod's
 * command to serve on a pod IP.
 */
import { createServer } from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { port: { type: "string", default: "8080" } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`echo-source: invalid --port "${values.port}"\n`);
  process.exit(2);
}

const server = createServer((socket) => {
  socket.on("error", () => {});
  socket.end(`${socket.remoteAddress}\n`);
});
server.on("error", (err) => {
  process.stderr.write(`echo-source: ${err.message}\n`);
  process.exit(1);
});
server.listen(port, "0.0.0.0", () => process.stdout.write(`echo-source: listening on 0.0.0.0:${port}\n`));
process.on("SIGTERM", () => process.exit(0));
