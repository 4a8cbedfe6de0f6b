/**
 * The server side of Kubernetes' remote-command WebSocket protocol
 * (subprotocols v5.channel.k8s.io and v4.channel.k8s.io), which kubectl
 * exec speaks and kube-apiserver v1.37 passes through to a kubelet that
 * declares ExtendWebSocketsToKubelet:
 *
 *   every binary message is one channel byte then data: 0 stdin, 1 stdout,
 *   2 stderr, 3 error (a metav1.Status as JSON, sent once at the end),
 *   4 resize ({"Width":W,"Height":H});
 *   v5 adds the close signal, a message [255, CHANNEL], which half-closes
 *   that channel (kubectl sends [255, 0] at the end of stdin).
 *
 * As kubelet does, the server writes an empty message on the first
 * writable channel right after the upgrade, so the client knows the
 * stream is up.
 */

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const ERROR = 3;
export const RESIZE = 4;
export const CLOSE_SIGNAL = 255;

/** The subprotocols served, best first. */
export const PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"] as const;

/** The subprotocol to use among those the client offers, or null when none is served. */
export function chooseProtocol(offered: Iterable<string>): string | null {
  const set = new Set(offered);
  return PROTOCOLS.find((p) => set.has(p)) ?? null;
}

/** A message the client sent. */
export type ClientMessage = { kind: "stdin"; data: Buffer } | { kind: "close"; channel: number } | { kind: "resize"; width: number; height: number } | { kind: "ignored" };

/** Decodes one client message; `v5` enables the close signal. */
export function decodeClientMessage(msg: Buffer, v5: boolean): ClientMessage {
  if (msg.length === 0) return { kind: "ignored" };
  const channel = msg[0]!;
  if (v5 && channel === CLOSE_SIGNAL) return msg.length === 2 ? { kind: "close", channel: msg[1]! } : { kind: "ignored" };
  const data = msg.subarray(1);
  if (channel === STDIN) return { kind: "stdin", data };
  if (channel === RESIZE) {
    try {
      const size = JSON.parse(data.toString("utf8")) as { Width?: unknown; Height?: unknown };
      if (typeof size.Width === "number" && typeof size.Height === "number") return { kind: "resize", width: size.Width, height: size.Height };
    } catch {
      // Not a size: ignored, as kubelet's decoder stops on it.
    }
  }
  return { kind: "ignored" };
}

/** One server message on `channel`. */
export function frame(channel: number, data: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  return Buffer.concat([Buffer.from([channel]), body]);
}

/**
 * The Status sent on the error channel when the command ended: Success for
 * exit 0, else NonZeroExitCode with the code as an ExitCode cause (which
 * kubectl turns into its own exit status).
 */
export function exitStatusJson(command: string[], code: number): string {
  if (code === 0) return JSON.stringify({ metadata: {}, status: "Success" });
  return JSON.stringify({
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: error executing command [${command.join(" ")}], exit code ${code}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(code) }] },
  });
}

/** A Status for an exec that could not run at all (kubectl prints its message). */
export function failureStatusJson(message: string): string {
  return JSON.stringify({ metadata: {}, status: "Failure", message, reason: "InternalError", code: 500 });
}
