/**
 * The smoke test's TCP client, run inside a pod's or node's namespace:
 * connects to HOST:PORT, reads what the server sends (the echo-source
 * protocol: the source address it saw, one line), prints
 * `{"answer": TEXT, "ms": TIME FROM CONNECT TO ANSWER}` and exits 0; prints
 * the error and exits 1 when the connection fails, 2 when it takes longer
 * than TIMEOUT_MS.
 *
 *     node src/lab/smoke/ask.ts HOST PORT TIMEOUT_MS
 */
import { connect } from "node:net";

const [host, port, timeout] = process.argv.slice(2);
const started = performance.now();
const socket = connect(Number(port), host!);
let got = "";
socket.setEncoding("utf8");
socket.on("data", (d: string) => (got += d));
socket.on("end", () => {
  process.stdout.write(JSON.stringify({ answer: got.trim(), ms: Math.round((performance.now() - started) * 100) / 100 }) + "\n");
  process.exit(0);
});
socket.on("error", (err) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
setTimeout(() => {
  process.stderr.write(`no answer within ${Number(timeout) / 1000} s\n`);
  process.exit(2);
}, Number(timeout));
