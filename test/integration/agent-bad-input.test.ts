// Hostile input to `weft agent` (issue 17): the real agent, run in a
// namespace of this test's own with one underlay interface (eth0, a veth
// to a second namespace, 192.168.200.10/24, MTU 1500), refuses each input with one line on stderr
// and a non-zero exit, within seconds, and leaves no lease and no subnet
// file behind. The last rows change the range of a node that holds a lease.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { EmbeddedStore } from "../../src/store/embedded/store.ts";
import { Namespaces } from "../support/netns.ts";
import { until } from "../support/until.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;
const MAIN = resolve(import.meta.dirname, "../../src/cli/main.ts");
/** An agent that has not exited by then hangs: the test fails instead of waiting. */
const EXIT_WITHIN_MS = 15_000;

describe("weft agent refuses hostile input and leaves nothing behind", { skip }, () => {
  const namespaces = new Namespaces("agbad");
  const dir = mkdtempSync(join(tmpdir(), "weft-agent-bad-"));
  const storeDir = join(dir, "store");
  let ns = "";

  /** The agent's argv for node `node`, with its own run and state dirs (unless `extra` gives them). */
  const agentArgs = (node: string, extra: string[]) => [
    "--node-name", node, "--store-dir", storeDir, "--run-dir", runDir(node), "--state-dir", join(dir, node, "lib"), ...extra,
  ];
  const runDir = (node: string) => join(dir, node, "run");
  const inNs = (argv: string[]) => ["ip", "netns", "exec", ns, ...argv];
  const agentArgv = (node: string, extra: string[]) => [process.execPath, "--disable-warning=ExperimentalWarning", MAIN, "agent", ...agentArgs(node, extra)];

  async function leasesOf(node: string): Promise<string[]> {
    const store = new EmbeddedStore({ dir: storeDir });
    try {
      return (await store.list()).filter((l) => l.attrs.node === node).map((l) => l.subnet);
    } finally {
      await store.close();
    }
  }

  /** Runs `argv` to its end (killed after EXIT_WITHIN_MS); returns its status and stderr. */
  function runToEnd(argv: string[]): { code: number | null; stderr: string; tookMs: number } {
    const started = Date.now();
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: EXIT_WITHIN_MS, killSignal: "SIGKILL" });
    return { code: r.status, stderr: r.stderr, tookMs: Date.now() - started };
  }

  /** Asserts the agent failed at once with one `weft:` line (after any log lines) matching `message`. */
  function assertRefused(r: { code: number | null; stderr: string; tookMs: number }, message: RegExp): void {
    assert.ok(r.code !== null, `the agent was still running after ${EXIT_WITHIN_MS} ms; stderr: ${r.stderr}`);
    assert.notEqual(r.code, 0, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.match(lines.at(-1)!, /^weft: /, r.stderr);
    assert.match(lines.at(-1)!, message);
    assert.ok(!r.stderr.includes("    at "), `a stack trace: ${r.stderr}`);
  }

  before(() => {
    ns = namespaces.add("node");
    const peer = namespaces.add("peer");
    for (const args of [
      ["link", "add", "eth0", "mtu", "1500", "type", "veth", "peer", "name", "p0", "netns", peer],
      ["addr", "add", "192.168.200.10/24", "dev", "eth0"],
      ["link", "set", "eth0", "up"],
      ["route", "add", "default", "via", "192.168.200.1"],
    ]) spawnSync("ip", ["-n", ns, ...args], { stdio: "inherit" });
    spawnSync("ip", ["-n", peer, "link", "set", "p0", "up"], { stdio: "inherit" });
    mkdirSync(storeDir, { recursive: true });
  });
  after(() => {
    namespaces.removeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  // [what, extra agent flags, message, the item of issue 17]
  const refused: [string, string[], RegExp, string][] = [
    ["--mtu above what vxlan carries", ["--mtu", "9000"], /--mtu 9000 is more than the vxlan backend can carry over eth0 \(MTU 1500\): at most 1450/, "7"],
    ["a run dir under /proc", ["--run-dir", "/proc/qa"], /^weft: cannot use --run-dir \/proc\/qa: \/proc does not allow creating \/proc\/qa \(ENOENT\)/, "8"],
    ["a run dir under a file", ["--run-dir", "/etc/hostname/run"], /cannot use --run-dir \/etc\/hostname\/run: \/etc\/hostname \(on the way to \/etc\/hostname\/run\) is not a directory \(ENOTDIR\)/, "8"],
    ["a relative run dir", ["--run-dir", "run"], /^weft: --run-dir must be an absolute path, got "run"/, "11"],
    ["a relative state dir", ["--state-dir", "lib"], /^weft: --state-dir must be an absolute path, got "lib"/, "11"],
    ["a store dir under /proc", ["--store-dir", "/proc/qa-store"], /cannot use the embedded store directory \/proc\/qa-store: \/proc does not allow creating/, "8"],
    ["--iface lo", ["--iface", "lo"], /--iface lo matched no non-loopback interface with an IPv4 address \(lo: loopback, which reaches no other node\)/, "9"],
    ["--iface 127.0.0.1", ["--iface", "127.0.0.1"], /--iface 127\.0\.0\.1 matched no non-loopback interface/, "9"],
    ["--iface-can-reach 127.0.0.1", ["--iface-can-reach", "127.0.0.1"], /invalid --iface-can-reach "127\.0\.0\.1": a loopback address/, "9"],
    ["--public-ip 127.0.0.1", ["--public-ip", "127.0.0.1"], /invalid --public-ip "127\.0\.0\.1": a loopback address/, "9"],
    ["--public-ip 127.0.0.1 with --iface eth0", ["--iface", "eth0", "--public-ip", "127.0.0.1"], /invalid --public-ip "127\.0\.0\.1": a loopback address/, "9"],
  ];
  refused.forEach(([what, extra, message, item], i) => {
    test(`refused (item ${item}): ${what}`, async () => {
      const node = `bad${i}`;
      const r = runToEnd(inNs(agentArgv(node, extra)));
      assertRefused(r, message);
      assert.deepEqual(await leasesOf(node), [], "no lease");
      assert.ok(!existsSync(join(runDir(node), "subnet.env")), "no subnet file");
    });
  });

  test("refused (item 16): a run dir whose parent is read-only is reported as read-only", async () => {
    const parent = join(dir, "ro");
    mkdirSync(parent);
    // A read-only mount in a mount namespace of the agent's own, never the host's.
    const r = runToEnd(inNs(["unshare", "-m", "--propagation", "private", "sh", "-c", 'mount -t tmpfs -o ro weft-test "$0" && exec "$@"', parent, ...agentArgv("ro", ["--run-dir", join(parent, "run")])]));
    assertRefused(r, new RegExp(`cannot use --run-dir ${parent}/run: ${parent}/run is on a read-only file system \\(EROFS\\)`));
    assert.deepEqual(await leasesOf("ro"), []);
  });

  test("refused (item 3): a range with nothing to lease keeps the lease the node holds, and its subnet file", async () => {
    const [cmd, ...args] = inNs(agentArgv("mover", []));
    const child = spawn(cmd!, args, { stdio: "ignore" });
    const exited = new Promise((r) => child.once("exit", r));
    const subnetFile = join(runDir("mover"), "subnet.env");
    try {
      await until("the agent's subnet file", () => existsSync(subnetFile), 20_000);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
    const [held] = await leasesOf("mover");
    assert.match(held ?? "", /^10\.244\.\d+\.0\/24$/);
    const before = readFileSync(subnetFile, "utf8");
    // eth0's 192.168.200.0/24 covers the whole new range, so no /26 of it may be leased.
    const r = runToEnd(inNs(agentArgv("mover", ["--pod-cidr", "192.168.200.0/24", "--subnet-len", "26"])));
    assertRefused(r, new RegExp(`cannot lease a subnet: 192\\.168\\.200\\.0/24 has no free /26 left .*; this node keeps its lease on ${held!.replace(/\./g, "\\.")} until it can lease`));
    assert.deepEqual(await leasesOf("mover"), [held], "the old lease is still held");
    assert.equal(readFileSync(subnetFile, "utf8"), before, "the subnet file still names the lease held");
  });

  test("refused (item 3): a subnet file naming a subnet the node does not hold is removed when the agent cannot lease", async () => {
    const subnetFile = join(runDir("stale"), "subnet.env");
    mkdirSync(runDir("stale"), { recursive: true });
    writeFileSync(subnetFile, "WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.77.1/24\nWEFT_MTU=1450\nWEFT_IPMASQ=true\n");
    const r = runToEnd(inNs(agentArgv("stale", ["--pod-cidr", "192.168.200.0/24", "--subnet-len", "26"])));
    assertRefused(r, /cannot lease a subnet: 192\.168\.200\.0\/24 has no free \/26 left/);
    assert.match(r.stderr, /removed .*subnet\.env: this node holds no lease on 10\.244\.77\.0\/24/);
    assert.ok(!existsSync(subnetFile), "the subnet file is gone with the lease it described");
    assert.deepEqual(await leasesOf("stale"), []);
  });
});
