/**
 * bench/throughput: pod-to-pod TCP throughput across two nodes (iperf3,
 * one stream, pod on node 1 → pod on node 2) over weft's vxlan and host-gw
 * backends, each against the same topology built by hand with `ip`
 * (throughput-topology.ts), and against the hand-built one plus weft's
 * nftables table (forward accept + masquerade, which turns conntrack on):
 * that third column tells weft's nftables cost from the rest.
 *
 * All six topologies exist at once and run in rounds (a backend's three
 * back to back, order rotating per round), so a busy moment of this 2-core
 * machine, shared with others, hits them alike. Throughput is the median of
 * ROUNDS runs of SECONDS s, and the ratio is that of the medians; since
 * other load only ever slows a run down, the ratio of the best runs is
 * printed too, as the figure least disturbed by it.
 * Target: weft / hand-built at least 0.95 for each backend.
 *
 * BENCH_IPERF_ROUNDS (default 12) and BENCH_IPERF_SECONDS (default 2) trade
 * time for steadier figures.
 */
import { spawnSync } from "node:child_process";
import { AgentCluster, until } from "./agent-cluster.ts";
import { Scratch } from "./agent-scratch.ts";
import { percentile, printTable } from "./stats.ts";
import { handBuilt, startWeft, subnetFileMtu, weftPods, type PodPair } from "./throughput-topology.ts";

const ROUNDS = Number(process.env.BENCH_IPERF_ROUNDS ?? 12);
const SECONDS = Number(process.env.BENCH_IPERF_SECONDS ?? 2);
const TARGET_RATIO = 0.95;

const KINDS = ["weft", "hand-built", "hand-built + weft nft"] as const;
type Kind = (typeof KINDS)[number];

/** One measured topology. */
interface Setup {
  backend: "vxlan" | "host-gw";
  kind: Kind;
  pair: PodPair;
  gbits: number[];
}

/** One iperf3 run from pod 1 to pod 2; Gbit/s received. */
function iperf(pair: PodPair, seconds: number): number {
  const r = spawnSync("ip", ["netns", "exec", pair.pods[0], "iperf3", "-c", pair.serverIp, "-t", String(seconds), "-J"], { encoding: "utf8", timeout: (seconds + 20) * 1000 });
  let out: { end?: { sum_received?: { bits_per_second: number } }; error?: string };
  try {
    out = JSON.parse(r.stdout) as typeof out;
  } catch {
    throw new Error(`iperf3 in ${pair.pods[0]} printed no JSON: ${r.stderr.trim() || r.stdout.slice(0, 200)}`);
  }
  const bps = out.end?.sum_received?.bits_per_second;
  if (bps === undefined) throw new Error(`iperf3 in ${pair.pods[0]} → ${pair.serverIp}: ${out.error ?? "no result"}`);
  return bps / 1e9;
}

/** Starts `iperf3 -s` in pod 2 and waits until it listens. */
async function startServer(scratch: Scratch, pair: PodPair): Promise<void> {
  scratch.spawn(["ip", "netns", "exec", pair.pods[1], "iperf3", "-s"], { stdio: "ignore" });
  await until(`iperf3 -s in ${pair.pods[1]}`, () => /:5201\b/.test(spawnSync("ip", ["netns", "exec", pair.pods[1], "ss", "-Hltn"], { encoding: "utf8" }).stdout), 10_000, 50);
}

/** Runs the benchmark and prints its table. */
export async function benchThroughput(): Promise<void> {
  const scratch = new Scratch("wbt");
  try {
    const weftVx = new AgentCluster(scratch, "embedded", "wv", "vxlan");
    const weftGw = new AgentCluster(scratch, "embedded", "wg", "host-gw");
    await Promise.all([startWeft(weftVx), startWeft(weftGw)]);
    const hand = (tag: string, backend: "vxlan" | "host-gw", mtu: number, nft: boolean) =>
      handBuilt(scratch, new AgentCluster(scratch, "embedded", tag), tag, backend, mtu, nft);
    const vxMtu = subnetFileMtu(weftVx, 1);
    const gwMtu = subnetFileMtu(weftGw, 1);
    const setups: Setup[] = [
      { backend: "vxlan", kind: "weft", pair: weftPods(scratch, weftVx, "wv"), gbits: [] },
      { backend: "vxlan", kind: "hand-built", pair: hand("hv", "vxlan", vxMtu, false), gbits: [] },
      { backend: "vxlan", kind: "hand-built + weft nft", pair: hand("nv", "vxlan", vxMtu, true), gbits: [] },
      { backend: "host-gw", kind: "weft", pair: weftPods(scratch, weftGw, "wg"), gbits: [] },
      { backend: "host-gw", kind: "hand-built", pair: hand("hg", "host-gw", gwMtu, false), gbits: [] },
      { backend: "host-gw", kind: "hand-built + weft nft", pair: hand("ng", "host-gw", gwMtu, true), gbits: [] },
    ];
    for (const s of setups) await startServer(scratch, s.pair);
    for (const s of setups) iperf(s.pair, 1); // warm-up: ARP, FDB, TCP metrics
    const backends = ["vxlan", "host-gw"] as const;
    const find = (backend: string, kind: Kind) => setups.find((s) => s.backend === backend && s.kind === kind)!;
    for (let r = 0; r < ROUNDS; r++) {
      for (const backend of r % 2 === 0 ? backends : [...backends].reverse()) {
        for (let i = 0; i < KINDS.length; i++) {
          const s = find(backend, KINDS[(i + r) % KINDS.length]!);
          s.gbits.push(iperf(s.pair, SECONDS));
        }
      }
    }
    const median = (s: Setup) => percentile(s.gbits, 50);
    const best = (s: Setup) => Math.max(...s.gbits);
    const fmt = (s: Setup) => `${median(s).toFixed(2)} (${s.gbits.map((g) => g.toFixed(1)).join(", ")})`;
    const ratio = (a: Setup, b: Setup) => `${(median(a) / median(b)).toFixed(2)} (best ${(best(a) / best(b)).toFixed(2)})`;
    process.stdout.write(`\nbench/throughput — iperf3 TCP pod→pod across two nodes, ${ROUNDS} rounds × ${SECONDS} s; Gbit/s median (each run)\n`);
    const rows: string[][] = [["backend", ...KINDS, "weft/hand-built", "weft/(hand-built + weft nft)"]];
    const verdicts: string[] = [];
    for (const backend of backends) {
      const [w, h, n] = KINDS.map((k) => find(backend, k)) as [Setup, Setup, Setup];
      rows.push([backend, fmt(w), fmt(h), fmt(n), ratio(w, h), ratio(w, n)]);
      const r = median(w) / median(h);
      verdicts.push(`target: ${backend} weft/hand-built >= ${TARGET_RATIO}: ${r >= TARGET_RATIO ? "met" : "NOT met"} (${r.toFixed(2)})`);
    }
    printTable(rows);
    process.stdout.write(verdicts.join("\n") + "\n");
  } finally {
    scratch.dispose();
  }
}

if (import.meta.main) await benchThroughput();
