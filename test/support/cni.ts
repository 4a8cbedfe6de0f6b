/**
 * Runs the built CNI plugin executable exactly as a runtime does: inside the
 * node's namespace, CNI_* in the environment, the config on stdin.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before } from "node:test";
import { Namespaces } from "./netns.ts";

export const PLUGIN = resolve(import.meta.dirname, "../../build/weft-cni");

export interface PluginRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON, when it is. */
  json: Record<string, unknown> | undefined;
}

function parse(stdout: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** CNI_* variables for one attachment. */
export function cniEnv(command: string, containerId: string, netns: string, ifname = "eth0"): Record<string, string> {
  return { CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: netns, CNI_IFNAME: ifname, CNI_PATH: "/usr/lib/cni" };
}

/**
 * Runs the plugin synchronously in `nodeNs` with exactly `env` (plus PATH).
 * A plugin that has not answered after `timeoutMs` is killed (status null),
 * so a plugin that blocks fails its test instead of hanging the suite.
 */
export function runPlugin(nodeNs: string, env: Record<string, string>, stdin: string | Uint8Array, timeoutMs = 20_000): PluginRun {
  return spawnPlugin(["ip", "netns", "exec", nodeNs, PLUGIN], env, stdin, timeoutMs);
}

/**
 * runPlugin with `dir` bind-mounted read-only over itself, in a mount
 * namespace of the plugin's own (private propagation), so the host's
 * mounts are never touched.
 */
export function runPluginReadOnly(nodeNs: string, dir: string, env: Record<string, string>, stdin: string): PluginRun {
  const script = 'mount --bind -o ro "$1" "$1" && exec ip netns exec "$2" "$3"';
  return spawnPlugin(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", dir, nodeNs, PLUGIN], env, stdin, 20_000);
}

function spawnPlugin(argv: string[], env: Record<string, string>, stdin: string | Uint8Array, timeoutMs: number): PluginRun {
  const r = spawnSync(argv[0]!, argv.slice(1), { input: stdin, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: parse(r.stdout) };
}

/** Runs the plugin asynchronously (for parallel ADDs). */
export function runPluginAsync(nodeNs: string, env: Record<string, string>, stdin: string): Promise<PluginRun> {
  return new Promise((res) => {
    const p = spawn("ip", ["netns", "exec", nodeNs, PLUGIN], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (status) => res({ status, stdout, stderr, json: parse(stdout) }));
    p.stdin.end(stdin);
  });
}

/** A temporary directory holding a subnet file and the IPAM store for one test. */
export class PluginFiles {
  readonly dir = mkdtempSync(join(tmpdir(), "weft-cni-test-"));
  readonly subnetFile = join(this.dir, "subnet.env");
  readonly dataDir = join(this.dir, "ipam");

  constructor(subnet = "10.244.1.1/24", mtu = 1450) {
    this.writeSubnet(subnet, mtu);
  }

  writeSubnet(subnet: string, mtu = 1450): void {
    writeFileSync(this.subnetFile, `WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=${subnet}\nWEFT_MTU=${mtu}\nWEFT_IPMASQ=true\n`);
  }

  /** A plugin config (one conflist entry with name and cniVersion injected). */
  config(cniVersion: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { cniVersion, name: "weft", type: "weft", subnetFile: this.subnetFile, dataDir: this.dataDir, ...extra };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * One node namespace and its plugin files for a describe block: made in
 * before(), removed in after() (also when a test failed). Pods go in `ns`.
 */
export class PluginNode {
  readonly ns: Namespaces;
  readonly files = new PluginFiles();
  /** The node namespace's name, set once before() ran. */
  node = "";

  constructor(prefix: string) {
    this.ns = new Namespaces(prefix);
    before(() => {
      this.node = this.ns.add("node");
    });
    after(() => {
      this.ns.removeAll();
      this.files.remove();
    });
  }
}
