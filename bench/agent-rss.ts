/**
 * bench/agent-rss: the resident memory of one `weft agent` that programs 50
 * peers, after it settled (ready, all 50 routes on weft.1, then SETTLE_S
 * seconds, i.e. two resyncs or more). The peers are leases written into the
 * store (their nodes need not exist for the agent to program them). VmRSS
 * is read from /proc/PID/status of the Node.js process itself.
 *
 * Measured side by side, in the same run: the agent as shipped
 * (build/weft-agent.mjs, what the lab and a DaemonSet run) on the embedded
 * store and on etcd; the same agent from source (src/cli/main.ts, types
 * stripped by Node.js at load); and two idle Node.js processes as the floor
 * (a .mjs, and a .ts). A preload prints process.memoryUsage() so the V8 heap
 * can be told from the runtime's own share.
 * Target: VmRSS at most 80 MB. BENCH_SETTLE_S (default 12) sets the wait.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { vtepMacFor } from "../src/backend/vxlan/device.ts";
import { parsePrefix } from "../src/lib/ipv4.ts";
import { AgentCluster, type StoreName } from "./agent-cluster.ts";
import { until } from "../test/support/until.ts";
import { sleep } from "../src/lib/sleep.ts";
import { Scratch } from "./agent-scratch.ts";
import { printTable } from "./stats.ts";

const PEERS = 50;
const TARGET_MB = 80;
const SETTLE_S = Number(process.env.BENCH_SETTLE_S ?? 12);
const MEM_PREFIX = "bench-mem ";

/** The /proc/PID/status memory fields, in MB. */
interface Mem {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
}

function readMem(pid: number): Mem {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) / 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM"), anon: kb("RssAnon"), file: kb("RssFile") };
}

/** The last process.memoryUsage() the preload logged to `log` (MB), if any. */
function lastHeap(log: string): { heapUsed: number; external: number } | undefined {
  const line = readFileSync(log, "utf8").split("\n").filter((l) => l.startsWith(MEM_PREFIX)).at(-1);
  return line ? (JSON.parse(line.slice(MEM_PREFIX.length)) as { heapUsed: number; external: number }) : undefined;
}

/** Writes the preload that logs memoryUsage every 2 s into `dir`; returns its path. */
function writePreload(dir: string): string {
  const preload = join(dir, "mem.mjs");
  writeFileSync(preload, `setInterval(() => { const m = process.memoryUsage();
    process.stderr.write(${JSON.stringify(MEM_PREFIX)} + JSON.stringify({ heapUsed: m.heapUsed / 1048576, external: m.external / 1048576 }) + "\\n"); }, 2000).unref();\n`);
  return preload;
}

/** One agent with PEERS peer leases in its own cluster; resolves with its memory once settled. */
async function measureAgent(scratch: Scratch, tag: string, store: StoreName, nodeFlags: string[], fromSource: boolean): Promise<{ mem: Mem; heap?: { heapUsed: number; external: number } }> {
  const c = new AgentCluster(scratch, store, tag);
  if (store === "etcd") await c.startEtcd();
  c.addNodes([1]);
  for (let i = 0; i < PEERS; i++) {
    const subnet = `10.244.${100 + i}.0/24`;
    await c.putLease(subnet, { node: `peer${i}`, publicIp: `192.168.125.${150 + i}`, backend: "vxlan", backendData: { vtepMac: vtepMacFor(parsePrefix(subnet)) } });
  }
  const a = c.startAgent(1, { nodeFlags, fromSource });
  await c.waitReady(1);
  await until(`${PEERS} routes on node1`, () => c.routeCount(1) === PEERS, 30_000, 100);
  await sleep(SETTLE_S * 1000);
  const mem = readMem(a.child.pid!);
  const heap = lastHeap(a.log);
  return heap ? { mem, heap } : { mem };
}

/** An idle Node.js process running `file`; its memory after 2 s. */
async function measureIdle(scratch: Scratch, file: string): Promise<Mem> {
  const child = scratch.spawn([process.execPath, "--disable-warning=ExperimentalWarning", file], { stdio: "ignore" });
  await sleep(2000);
  const mem = readMem(child.pid!);
  child.kill("SIGKILL");
  return mem;
}

/** Runs the benchmark and prints its table. */
export async function benchAgentRss(): Promise<void> {
  const scratch = new Scratch("wbr");
  try {
    const dir = scratch.tempDir("rss");
    const preload = writePreload(dir);
    writeFileSync(join(dir, "idle.mjs"), "setInterval(() => {}, 1000);\n");
    writeFileSync(join(dir, "idle.ts"), "const every: number = 1000;\nsetInterval(() => {}, every);\n");
    const flags = ["--import", preload];
    // All at once: each in its own namespaces, and memory does not depend on who else runs.
    const [emb, etcd, source, idleJs, idleTs] = await Promise.all([
      measureAgent(scratch, "a", "embedded", flags, false),
      measureAgent(scratch, "b", "etcd", flags, false),
      measureAgent(scratch, "c", "embedded", flags, true),
      measureIdle(scratch, join(dir, "idle.mjs")),
      measureIdle(scratch, join(dir, "idle.ts")),
    ]);
    const mb = (x: number) => `${x.toFixed(1)} MB`;
    const row = (label: string, store: string, m: Mem, heap?: { heapUsed: number; external: number }) => [
      label, store, mb(m.rss), mb(m.anon), mb(m.file), mb(m.hwm), heap ? `${mb(heap.heapUsed)} + ${mb(heap.external)}` : "-", (m.rss / TARGET_MB).toFixed(2),
    ];
    process.stdout.write(`\nbench/agent-rss — one agent, ${PEERS} peers programmed, ${SETTLE_S} s after settling; /proc/PID/status of the Node.js process\n`);
    printTable([
      ["process", "store", "VmRSS", "RssAnon", "RssFile", "VmHWM", "V8 heap + external", `VmRSS/${TARGET_MB} MB`],
      row("weft agent as shipped (build/weft-agent.mjs)", "embedded", emb.mem, emb.heap),
      row("weft agent as shipped (build/weft-agent.mjs)", "etcd", etcd.mem, etcd.heap),
      row("weft agent from source (types stripped at load)", "embedded", source.mem, source.heap),
      row("reference: idle Node.js, .mjs", "-", idleJs),
      row("reference: idle Node.js, .ts (type stripping)", "-", idleTs),
    ]);
    const worst = Math.max(emb.mem.rss, etcd.mem.rss);
    process.stdout.write(`target: agent VmRSS <= ${TARGET_MB} MB: ${worst <= TARGET_MB ? "met" : "NOT met"} (${mb(worst)}, ${(worst / TARGET_MB).toFixed(2)} of the target)\n`);
  } finally {
    scratch.dispose();
  }
}

if (import.meta.main) await benchAgentRss();
