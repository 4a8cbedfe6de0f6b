/**
 * Runs the probe client (probe-client.ts) in a pod's namespace: one TCP
 * connection or one UDP datagram, timed inside the namespace, so what it
 * reports (connected, refused, a timeout, and in how many ms) is the
 * kernel's answer and not the time a process takes to start. The service
 * trace and `weft lab smoke` use it. Never throws.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../../lib/root.ts";

const PROBE_CLIENT = join(ROOT, "src/trace/service/probe-client.ts");
/** How much longer than its own wait the client may live (its start included) before it is killed. */
const START_GRACE_MS = 5000;

/** What one probe got. */
export interface ConnectProbe {
  /** connected, answered (UDP), sent (UDP: no answer, no refusal), refused, timeout or error. */
  outcome: string;
  /** The probe's source port (for its conntrack entry), when it got one. */
  localPort: number | null;
  /** From the connect call to the outcome, in ms. */
  ms: number;
  error: string | null;
}

/** One probe from `netns` to ip:port; TCP waits up to `waitMs` for the connection, UDP that long for an answer. */
export function runProbe(netns: string, protocol: "tcp" | "udp", ip: string, port: number, waitMs: number): Promise<ConnectProbe> {
  const argv = ["netns", "exec", netns, process.execPath, "--disable-warning=ExperimentalWarning", PROBE_CLIENT, protocol, ip, String(port), String(waitMs)];
  return new Promise((resolve) => {
    execFile("ip", argv, { timeout: waitMs + START_GRACE_MS, killSignal: "SIGKILL" }, (_err, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout) as ConnectProbe);
      } catch {
        resolve({ outcome: "error", localPort: null, ms: 0, error: stderr.trim().split("\n")[0] || "the probe client did not run" });
      }
    });
  });
}
