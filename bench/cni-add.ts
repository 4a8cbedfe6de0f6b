/**
 * bench/cni-add: ADD and DEL latency of the chain [weft, portmap] against
 * the reference [bridge + host-local, portmap], both driven through libcni
 * (build/cniclient) in one node namespace, interleaved so both see the same
 * machine state (which chain goes first alternates by round); then the wall
 * time of 100 parallel ADDs for each. Both chains run from one bin dir both
 * were freshly installed into (plugin-dir.ts says why that matters).
 * A node runs pods: before anything is measured, each chain gets
 * BENCH_RESIDENT_PODS (default 50) pods that stay for the whole run, so
 * each IPAM store holds what a busy node's holds.
 * Target: weft's p50 ADD at or below the reference's.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ms, percentile, printTable } from "./stats.ts";
import { installPlugins } from "./plugin-dir.ts";
import { Scratch } from "./agent-scratch.ts";

const root = resolve(import.meta.dirname, "..");
const cniclient = join(root, "build/cniclient");
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const PARALLEL = 100;
const RESIDENT = Number(process.env.BENCH_RESIDENT_PODS ?? 50);

interface Chain {
  label: string;
  net: string;
  confDir: string;
  cacheDir: string;
}

/** The two chains' configurations in `dir`; both run plugins from `dir`/bin. */
function makeChains(dir: string): Chain[] {
  writeFileSync(join(dir, "subnet.env"), "WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.1.1/24\nWEFT_MTU=1450\nWEFT_IPMASQ=true\n");
  const chains: Chain[] = [];
  const add = (label: string, net: string, first: Record<string, unknown>) => {
    const confDir = join(dir, `${net}-conf`);
    mkdirSync(confDir, { recursive: true });
    writeFileSync(join(confDir, `10-${net}.conflist`), JSON.stringify({ cniVersion: "1.0.0", name: net, plugins: [first, { type: "portmap", capabilities: { portMappings: true } }] }));
    chains.push({ label, net, confDir, cacheDir: join(dir, `${net}-cache`), });
  };
  add("weft + portmap", "weft", { type: "weft", subnetFile: join(dir, "subnet.env"), dataDir: join(dir, "weft-ipam") });
  add("bridge+host-local + portmap", "ref", { type: "bridge", bridge: "cni0", isGateway: true, hairpinMode: true, ipam: { type: "host-local", ranges: [[{ subnet: "10.250.0.0/24" }]], dataDir: join(dir, "ref-ipam") } });
  return chains;
}

function cni(node: string, bin: string, c: Chain, verb: "add" | "del", pod: string, id: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((res, rej) => {
    const p = spawn("ip", ["netns", "exec", node, cniclient, "--conf-dir", c.confDir, "--path", bin, "--cache-dir", c.cacheDir, verb, c.net, `/run/netns/${pod}`, "eth0", id], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    p.on("exit", (code) => (code === 0 ? res(performance.now() - t0) : rej(new Error(`${c.label} ${verb} ${id}: ${err.trim()}`))));
  });
}

export async function benchCniAdd(): Promise<void> {
  if (!existsSync(cniclient)) throw new Error(`${cniclient} is not built; run scripts/setup.sh`);
  // Scratch removes the namespaces and the directory however the bench ends, Ctrl-C included.
  const scratch = new Scratch("wbc");
  try {
    const dir = scratch.tempDir("cni");
    const [node] = scratch.addNamespaces(["node"]) as [string];
    // install-cni says so itself when the plugin is not built.
    const bin = installPlugins(join(dir, "bin"), ["bridge", "host-local", "portmap"]);
    const chains = makeChains(dir);
    const pods = scratch.addNamespaces(Array.from({ length: PARALLEL }, (_, i) => `p${i}`));
    for (const [i, c] of chains.entries()) {
      const resident = scratch.addNamespaces(Array.from({ length: RESIDENT }, (_, j) => `r${i}-${j}`));
      for (const [j, pod] of resident.entries()) await cni(node, bin, c, "add", pod, `resident${j}`);
    }
    const times = new Map(chains.map((c) => [c.label, { add: [] as number[], del: [] as number[] }]));
    // Warm-up rounds, then interleaved rounds: A add, B add, A del, B del,
    // then B before A in the next round.
    for (let r = -2; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) {
        const t = await cni(node, bin, chains[i]!, "add", pods[i]!, `c${r + 2}`);
        if (r >= 0) times.get(chains[i]!.label)!.add.push(t);
      }
      for (const i of order) {
        const t = await cni(node, bin, chains[i]!, "del", pods[i]!, `c${r + 2}`);
        if (r >= 0) times.get(chains[i]!.label)!.del.push(t);
      }
    }
    const parallel = new Map<string, number>();
    for (const c of chains) {
      const t0 = performance.now();
      await Promise.all(pods.map((p, i) => cni(node, bin, c, "add", p, `par${i}`)));
      parallel.set(c.label, performance.now() - t0);
      await Promise.all(pods.map((p, i) => cni(node, bin, c, "del", p, `par${i}`)));
    }
    const [w, ref] = chains.map((c) => times.get(c.label)!);
    process.stdout.write(`\nbench/cni-add — through libcni (cniclient), ${ROUNDS} interleaved rounds, one node namespace, ${RESIDENT} resident pods per chain\n`);
    printTable([
      ["chain", "ADD p50", "ADD p99", "DEL p50", "DEL p99", `${PARALLEL} parallel ADDs`],
      ...chains.map((c) => {
        const t = times.get(c.label)!;
        return [c.label, ms(percentile(t.add, 50)), ms(percentile(t.add, 99)), ms(percentile(t.del, 50)), ms(percentile(t.del, 99)), ms(parallel.get(c.label)!)];
      }),
      ["ratio weft/ref", ...[percentile(w!.add, 50) / percentile(ref!.add, 50), percentile(w!.add, 99) / percentile(ref!.add, 99), percentile(w!.del, 50) / percentile(ref!.del, 50), percentile(w!.del, 99) / percentile(ref!.del, 99), parallel.get(chains[0]!.label)! / parallel.get(chains[1]!.label)!].map((x) => x.toFixed(2))],
    ]);
    const ok = percentile(w!.add, 50) <= percentile(ref!.add, 50);
    process.stdout.write(`target: weft p50 ADD <= reference p50 ADD: ${ok ? "met" : "NOT met"}\n`);
  } finally {
    scratch.dispose();
  }
}

if (import.meta.main) await benchCniAdd();
