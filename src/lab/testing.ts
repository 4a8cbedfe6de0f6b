/**
 * Helpers for the lab's integration tests (test/integration/lab-*.test.ts):
 * running the real CLI, a stand-in agent, a reference-plugin network
 * configuration, and a snapshot of the host's own network namespace.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRunner, run } from "../kernel/runner.ts";
import { nodePaths, type LabLayout } from "./layout.ts";
import { ROOT } from "../lib/root.ts";

/** The CLI entry in this checkout. */
export const WEFT_BIN = join(ROOT, "bin/weft");

/** The environment for a lab that runs the real agent (an empty WEFT_LAB_AGENT_CMD leaves the stand-in out). */
export const REAL_AGENT = { WEFT_LAB_AGENT_CMD: "" };

/**
 * A WEFT_LAB_AGENT_CMD that stands in for the agent: it "leases"
 * 10.244.K.0/24 for node K by writing the subnet file, then sleeps.
 */
export const FAKE_AGENT_CMD = [
  `printf 'WEFT_NETWORK=10.244.0.0/16\\nWEFT_SUBNET=10.244.%s.1/24\\nWEFT_MTU=1450\\nWEFT_IPMASQ=true\\n' "$WEFT_NODE_INDEX" >"$WEFT_RUN_DIR/subnet.env.tmp"`,
  `mv "$WEFT_RUN_DIR/subnet.env.tmp" "$WEFT_RUN_DIR/subnet.env"`,
  "exec sleep infinity",
].join(" && ");

/** What a CLI run left. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `bin/weft ARGS` with the fake agent unless `env` says otherwise. */
export function weft(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(WEFT_BIN, args, { env: { ...process.env, WEFT_LAB_AGENT_CMD: FAKE_AGENT_CMD, ...env }, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Runs `bin/weft ARGS` and returns stdout; throws with stderr when it fails. */
export async function weftOk(args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await weft(args, env);
  if (r.code !== 0) throw new Error(`weft ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A lab name unique to this test process. */
export function uniqueLabName(tag: string): string {
  return `t${process.pid}-${tag}`;
}

/** Runs `argv` inside namespace `ns` and returns stdout (throws on failure). */
export function inNetns(ns: string, argv: string[]): Promise<string> {
  return run(createRunner(ns), argv);
}

/** Connects from namespace `ns` to host:port and returns the one line the server sends (the echo-source protocol). */
export async function askEcho(ns: string, host: string, port: number): Promise<string> {
  const out = await inNetns(ns, ["bash", "-c", `exec 3<>/dev/tcp/${host}/${port} && timeout 5 cat <&3`]);
  return out.trim();
}

/**
 * Writes a network configuration of Debian's reference plugins into a
 * node's conf dir: bridge cni0 (gateway, host-local IPAM in 10.244.K.0/24,
 * its store in the node's state dir) chained with portmap. It sorts before
 * 10-weft.conflist, so the runtime picks it. Returns its path.
 */
export function writeReferenceConflist(lab: LabLayout, node: string, index: number): string {
  const p = nodePaths(lab, node);
  const file = join(p.cniConfDir, "00-reference.conflist");
  const conf = {
    cniVersion: "1.0.0",
    name: "reference",
    plugins: [
      {
        type: "bridge",
        bridge: "cni0",
        isGateway: true,
        ipam: { type: "host-local", ranges: [[{ subnet: `10.244.${index}.0/24` }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: join(p.stateDir, "host-local") },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
  writeFileSync(file, JSON.stringify(conf, null, 2));
  return file;
}

/**
 * The host namespace's network state as text per aspect: links (without
 * counters), addresses (without lifetimes, which count down), IPv4 and IPv6
 * routes (without expiry), the nftables ruleset and the forwarding sysctls.
 */
export async function hostSnapshot(): Promise<Record<string, string>> {
  const json = async (argv: string[], drop: string[]) => {
    const text = await run(createRunner(), argv);
    return JSON.stringify(JSON.parse(text.trim() || "[]"), (k, v) => (drop.includes(k) ? undefined : v), 1);
  };
  return {
    links: await json(["ip", "-j", "link"], ["stats", "stats64"]),
    addresses: await json(["ip", "-j", "addr"], ["valid_life_time", "preferred_life_time", "stats", "stats64"]),
    routes: await json(["ip", "-j", "route", "show", "table", "all"], ["expires"]),
    routes6: await json(["ip", "-j", "-6", "route", "show", "table", "all"], ["expires"]),
    nftables: await run(createRunner(), ["nft", "list", "ruleset"]),
    "net.ipv4.ip_forward": readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8"),
    "net.ipv4.conf.all.forwarding": readFileSync("/proc/sys/net/ipv4/conf/all/forwarding", "utf8"),
  };
}
