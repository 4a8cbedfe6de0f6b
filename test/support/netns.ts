/**
 * Throw-away network namespaces for tests (benchmarks use bench/agent-scratch.ts). Names carry the
 * process id so parallel runs never collide; `removeAll` runs in `after()`
 * or `finally` so a failing test still leaves nothing behind.
 */
import { execFileSync, spawnSync } from "node:child_process";

export class Namespaces {
  readonly prefix: string;
  readonly #made: string[] = [];

  /** `tag` names the test; the prefix is `<tag>-<pid>`. Namespace names stay short. */
  constructor(tag: string) {
    this.prefix = `${tag}-${process.pid}`;
  }

  /**
   * Creates `<prefix>-<name>` with loopback up and IP forwarding off, as on
   * a freshly booted host; returns its name. (A new namespace copies its
   * IPv4 settings from the host's, and a host running Docker or Kubernetes
   * forwards.)
   */
  add(name: string): string {
    const ns = `${this.prefix}-${name}`;
    execFileSync("ip", ["netns", "add", ns]);
    this.#made.push(ns);
    execFileSync("ip", ["-n", ns, "link", "set", "lo", "up"]);
    execFileSync("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    return ns;
  }

  /** Deletes every namespace this object made (and is quiet about ones already gone). */
  removeAll(): void {
    for (const ns of this.#made.splice(0)) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  }
}

/** Runs `ip -n NS args…` and returns stdout. */
export function ipIn(ns: string, ...args: string[]): string {
  return execFileSync("ip", ["-n", ns, ...args], { encoding: "utf8" });
}

/** Runs a command inside a namespace; returns status and output without throwing. */
export function runIn(ns: string, cmd: string[], input?: string, env?: NodeJS.ProcessEnv) {
  return spawnSync("ip", ["netns", "exec", ns, ...cmd], { input, env: env ? { ...process.env, ...env } : process.env, encoding: "utf8" });
}
