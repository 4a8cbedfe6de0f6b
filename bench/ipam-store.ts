/**
 * bench/ipam-store: what one ADD's address allocation costs the file system,
 * weft's store (src/ipam/store.ts: two records rewritten in place) against
 * the way weft stored addresses before (the whole state written to a new
 * file, renamed over the old one).
 * Both run here from Node over node:fs on the file system of the default
 * dataDir, each starting from a store holding 100 pods, interleaved, with a
 * pause before each allocation as a plugin process would have (the CNI ADD
 * bench measures the whole plugin; this one isolates the store's share).
 */
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { IpamStore } from "../src/ipam/store.ts";
import { parsePrefix } from "../src/lib/ipv4.ts";
import { nodeFiles } from "../src/sys/node-files.ts";
import { Scratch } from "./agent-scratch.ts";
import { percentile, printTable } from "./stats.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const PODS = 100;
const subnet = parsePrefix("10.244.1.0/24");
const gateway = subnet.base + 1;

/** The lock both stores take: the lock file opened (Node cannot flock; the call itself costs both the same). */
function openLock(path: string): () => void {
  const fd = openSync(path, "a", 0o600);
  return () => closeSync(fd);
}

/** The version-1 store's ADD: read the JSON state, add one address, write it to a temporary file, rename it over. */
function allocateByRename(dir: string, id: string): void {
  const unlock = openLock(join(dir, "lock"));
  const file = join(dir, "allocations.json");
  const state = JSON.parse(readFileSync(file, "utf8")) as { last?: string; allocations: Record<string, unknown> };
  for (let i = 2; i < 255; i++) {
    const ip = `10.244.1.${i}`;
    if (state.allocations[ip]) continue;
    state.allocations[ip] = { containerId: id, ifname: "eth0", pod: `default/${id}` };
    state.last = ip;
    break;
  }
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
  renameSync(tmp, file);
  unlock();
}

function releaseByRename(dir: string, id: string): void {
  const file = join(dir, "allocations.json");
  const state = JSON.parse(readFileSync(file, "utf8")) as { allocations: Record<string, { containerId: string }> };
  for (const [ip, o] of Object.entries(state.allocations)) if (o.containerId === id) delete state.allocations[ip];
  writeFileSync(file, JSON.stringify(state));
}


export async function benchIpamStore(): Promise<void> {
  const base = "/var/lib/weft";
  const made = !existsSync(base);
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, "bench-ipam-"));
  // Removed however the bench ends, Ctrl-C included.
  const scratch = new Scratch("wbi");
  scratch.atExit(() => rmSync(made ? base : dir, { recursive: true, force: true }));
  try {
    const inPlace = new IpamStore(dir, "weft", nodeFiles, openLock);
    const renamed = join(dir, "v1");
    mkdirSync(renamed);
    writeFileSync(join(renamed, "allocations.json"), JSON.stringify({ version: 1, allocations: {} }));
    for (let i = 0; i < PODS; i++) {
      inPlace.allocate(subnet, gateway, { containerId: `p${i}`, ifname: "eth0", pod: `default/p${i}` });
      allocateByRename(renamed, `p${i}`);
    }
    const times = { inPlace: [] as number[], rename: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      const id = `new${r}`;
      const order = r % 2 === 0 ? (["inPlace", "rename"] as const) : (["rename", "inPlace"] as const);
      for (const kind of order) {
        await sleep(20);
        const t0 = performance.now();
        if (kind === "inPlace") inPlace.allocate(subnet, gateway, { containerId: id, ifname: "eth0", pod: `default/${id}` });
        else allocateByRename(renamed, id);
        times[kind].push(performance.now() - t0);
        if (kind === "inPlace") inPlace.release({ containerId: id, ifname: "eth0" });
        else releaseByRename(renamed, id);
      }
    }
    const us = (x: number) => `${(x * 1000).toFixed(0)} µs`;
    console.log(`\nbench ipam-store: one allocation in a store of ${PODS} pods, ${ROUNDS} interleaved rounds, in ${base}`);
    printTable([
      ["store", "p50", "p99"],
      ["weft (records rewritten in place)", us(percentile(times.inPlace, 50)), us(percentile(times.inPlace, 99))],
      ["whole file renamed over (weft before)", us(percentile(times.rename, 50)), us(percentile(times.rename, 99))],
    ]);
    console.log(`ratio (p50, in place / rename): ${(percentile(times.inPlace, 50) / percentile(times.rename, 50)).toFixed(2)}`);
  } finally {
    scratch.dispose();
  }
}

if (import.meta.main) await benchIpamStore();
