/**
 * The smoke test's probes, each run inside a namespace by `ip netns exec`
 * and bounded in time: a ping that waits for the first reply, and a TCP
 * connection to an echo-source server (src/lab/echo-source.ts), which
 * answers with the source address it saw. A probe never throws: what went
 * wrong is its `detail`.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../../lib/root.ts";

const ASK = join(ROOT, "src/lab/smoke/ask.ts");
/**
 * How much longer than its own timeout a probe process may live before it
 * is killed. The TCP probe is a Node.js process whose own timer bounds the
 * wait for the answer, from its start; this only stops one that hangs. It
 * allows for Node.js's start-up, which takes seconds when the smoke test
 * starts eight probes at once on a loaded machine (4.5 s each, measured on
 * 2 cores at load average 20); killed sooner, a healthy path failed.
 */
const KILL_GRACE_MS = 15_000;

/** What a probe found. */
export interface ProbeResult {
  ok: boolean;
  /** The round-trip time (ping) or the time to the answer (TCP), in ms, when ok. */
  ms: number | null;
  /** The TCP server's answer (the source address it saw), when ok. */
  answer: string | null;
  /** Why it failed, when it did. */
  error: string | null;
}

/** Runs argv in `ns`; resolves with its exit status (null when killed), stdout and stderr. */
function runIn(ns: string, argv: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("ip", ["netns", "exec", ns, ...argv], { timeout: timeoutMs + KILL_GRACE_MS, killSignal: "SIGKILL" }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Pings `ip` from `ns` until the first reply, for at most `timeoutMs`. */
export async function ping(ns: string, ip: string, timeoutMs: number): Promise<ProbeResult> {
  const r = await runIn(ns, ["ping", "-n", "-c", "1", "-i", "0.2", "-w", String(Math.ceil(timeoutMs / 1000)), ip], timeoutMs);
  const rtt = /time=([\d.]+) ms/.exec(r.stdout);
  if (r.code === 0 && rtt) return { ok: true, ms: Number(rtt[1]), answer: null, error: null };
  const why = r.stderr.trim().split("\n")[0] || `no reply within ${timeoutMs / 1000} s`;
  return { ok: false, ms: null, answer: null, error: why };
}

/** Connects from `ns` to an echo-source server at ip:port and reads its answer, within `timeoutMs`. */
export async function ask(ns: string, ip: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  const r = await runIn(ns, [process.execPath, ASK, ip, String(port), String(timeoutMs)], timeoutMs);
  if (r.code === 0) {
    const { answer, ms } = JSON.parse(r.stdout) as { answer: string; ms: number };
    if (answer !== "") return { ok: true, ms, answer, error: null };
  }
  const why = r.stderr.trim().split("\n")[0] || (r.code === null ? `no answer within ${timeoutMs / 1000} s` : "the server closed without an answer");
  return { ok: false, ms: null, answer: null, error: why };
}
