/**
 * Runs a throw-away single-member etcd on loopback: for the store tests, and
 * for a lab that wants `--store etcd` without a cluster. It listens on
 * 127.0.0.1 only and is killed when this process exits, so a crashed test
 * leaves no etcd behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { WeftError } from "../../lib/errors.ts";

/** The etcd binary Debian's etcd-server package installs. */
export const ETCD_BINARY = "/usr/bin/etcd";
/** How long etcd may take to start serving, in ms. */
export const ETCD_START_TIMEOUT_MS = 15_000;

/** Options of a local etcd. */
export interface LocalEtcdOptions {
  /** Its data directory; reuse one to restart etcd with its data. */
  dataDir: string;
  /** Client port on 127.0.0.1. */
  clientPort: number;
  /** Peer port on 127.0.0.1 (etcd needs one even alone). */
  peerPort: number;
  /** Serve clients over TLS with these PEM files; with `clientCaFile`, demand client certificates signed by it. */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
}

/** A running local etcd. */
export interface LocalEtcd {
  /** Its client URL, e.g. `http://127.0.0.1:23791`. */
  endpoint: string;
  /** Its process id. */
  pid: number;
  /** Stops it (SIGTERM by default; SIGKILL to simulate a crash) and waits until it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Starts etcd and resolves once it serves clients. */
export async function startLocalEtcd(options: LocalEtcdOptions): Promise<LocalEtcd> {
  const scheme = options.tls ? "https" : "http";
  const endpoint = `${scheme}://127.0.0.1:${options.clientPort}`;
  const peer = `http://127.0.0.1:${options.peerPort}`;
  const args = [
    "--name", "weft", "--data-dir", options.dataDir,
    "--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
    "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", `weft=${peer}`,
  ];
  if (options.tls) {
    args.push("--cert-file", options.tls.certFile, "--key-file", options.tls.keyFile);
    if (options.tls.clientCaFile) args.push("--trusted-ca-file", options.tls.clientCaFile, "--client-cert-auth");
  }
  const child = spawn(ETCD_BINARY, args, { stdio: ["ignore", "pipe", "pipe"] });
  const killOnExit = (): void => void child.kill("SIGKILL");
  process.on("exit", killOnExit);
  const exited = new Promise<void>((resolve) => child.once("exit", () => {
    process.off("exit", killOnExit);
    resolve();
  }));

  // etcd logs "serving … client requests on 127.0.0.1:PORT" once its client
  // listener (and the JSON gateway on it) is up.
  let log = "";
  const ready = new Promise<void>((resolve, reject) => {
    const onOutput = (chunk: Buffer): void => {
      log = (log + chunk.toString("utf8")).slice(-4000);
      if (/serving (insecure )?client requests on/.test(log)) resolve();
    };
    child.stdout!.on("data", onOutput);
    child.stderr!.on("data", onOutput);
    child.once("error", reject);
    child.once("exit", (code, signal) => reject(new Error(`etcd exited (${signal ?? code}) before serving`)));
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`etcd did not serve within ${ETCD_START_TIMEOUT_MS} ms`)), ETCD_START_TIMEOUT_MS);
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    const last = log.trim().split("\n").slice(-3).join(" | ");
    throw new WeftError("ETCD_START_FAILED", `cannot start ${ETCD_BINARY} on ${endpoint}: ${(err as Error).message}`, {
      hint: `install etcd-server, or free the ports${last ? `; etcd said: ${last}` : ""}`,
      cause: err,
    });
  } finally {
    clearTimeout(timer);
  }

  return {
    endpoint,
    pid: child.pid!,
    stop: async (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
