/**
 * Readiness and liveness probes, as kubelet's prober runs them: tcpSocket
 * and httpGet from the node's namespace (this process's) to the pod's IP,
 * exec inside the container. A prober counts consecutive results against
 * the probe's success and failure thresholds and reports each change.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import type { ContainerPort, Probe } from "../../kube/pod.ts";
import { sleep } from "../../lib/sleep.ts";

/** Runs an exec probe's command in the container; resolves with its exit status. */
export type ExecInContainer = (command: string[], timeoutMs: number) => Promise<number>;

/** One probe attempt: true when it passed. Errors and timeouts are failures. */
export async function probeOnce(probe: Probe, podIp: string, ports: readonly ContainerPort[], exec: ExecInContainer): Promise<{ ok: boolean; message: string }> {
  const timeoutMs = Math.max(1, probe.timeoutSeconds) * 1000;
  const a = probe.action;
  if (a.kind === "exec") {
    const code = await exec(a.command, timeoutMs).catch(() => -1);
    return { ok: code === 0, message: `exec ${JSON.stringify(a.command)} exited ${code}` };
  }
  const port = resolvePort(a.port, ports);
  if (port === null) return { ok: false, message: `port ${a.port} is not a declared container port` };
  const host = a.host ?? podIp;
  if (a.kind === "tcpSocket") {
    return new Promise((resolve) => {
      const sock = connect({ host, port, timeout: timeoutMs });
      sock.once("connect", () => {
        sock.destroy();
        resolve({ ok: true, message: "" });
      });
      sock.once("timeout", () => {
        sock.destroy();
        resolve({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` });
      });
      sock.once("error", (err) => resolve({ ok: false, message: `dial tcp ${host}:${port}: ${err.message}` }));
    });
  }
  const req = a.scheme === "HTTPS" ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const r = req(
      { host, port, path: a.path, method: "GET", timeout: timeoutMs, headers: { "User-Agent": "kube-probe/1.37", ...Object.fromEntries(a.headers) }, rejectUnauthorized: false },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve({ ok: code >= 200 && code < 400, message: `HTTP probe failed with statuscode: ${code}` });
      },
    );
    r.once("timeout", () => {
      r.destroy();
      resolve({ ok: false, message: `Get "${a.scheme.toLowerCase()}://${host}:${port}${a.path}": context deadline exceeded` });
    });
    r.once("error", (err) => resolve({ ok: false, message: `Get "${a.scheme.toLowerCase()}://${host}:${port}${a.path}": ${err.message}` }));
    r.end();
  });
}

/** A probe's port: a number, or the name of a declared container port. */
export function resolvePort(port: number | string, ports: readonly ContainerPort[]): number | null {
  if (typeof port === "number") return port;
  if (/^\d+$/.test(port)) return Number(port);
  return ports.find((p) => p.name === port)?.containerPort ?? null;
}

/**
 * Runs `probe` every periodSeconds after initialDelaySeconds until
 * `signal` aborts; `onResult` is called when the thresholded result
 * changes (first with the first result past a threshold).
 */
export async function runProber(
  probe: Probe,
  attempt: () => Promise<{ ok: boolean; message: string }>,
  onResult: (ok: boolean, message: string) => void,
  signal: AbortSignal,
): Promise<void> {
  await sleep(probe.initialDelaySeconds * 1000, signal);
  let current: boolean | null = null;
  let streak = 0;
  let last: boolean | null = null;
  while (!signal.aborted) {
    const r = await attempt();
    if (signal.aborted) return;
    streak = r.ok === last ? streak + 1 : 1;
    last = r.ok;
    const threshold = r.ok ? probe.successThreshold : probe.failureThreshold;
    if (streak >= threshold && current !== r.ok) {
      current = r.ok;
      onResult(r.ok, r.message);
    } else if (!r.ok && current === false && streak >= threshold) {
      // Still failing: liveness acts again after another full threshold.
      if (streak % threshold === 0) onResult(false, r.message);
    }
    await sleep(Math.max(1, probe.periodSeconds) * 1000, signal);
  }
}
