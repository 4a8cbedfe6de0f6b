/**
 * bench/plugin-binary: the size of the self-contained plugin executable and
 * its start-up time (CNI VERSION, the cheapest verb), against a reference Go
 * plugin binary doing the same: both freshly installed into one bin dir
 * (plugin-dir.ts), and weft's build/weft-cni as found too, in whatever
 * page-cache state its age has left it.
 */
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Scratch } from "./agent-scratch.ts";
import { installPlugins } from "./plugin-dir.ts";
import { ms, percentile, printTable } from "./stats.ts";

const root = resolve(import.meta.dirname, "..");

function startup(bin: string, runs = 60): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs + 5; i++) {
    const t0 = performance.now();
    const r = spawnSync(bin, [], { input: '{"cniVersion":"1.0.0"}', env: { CNI_COMMAND: "VERSION" } });
    if (r.status !== 0) throw new Error(`${bin} VERSION failed: ${r.stdout}`);
    if (i >= 5) out.push(performance.now() - t0);
  }
  return out;
}

export async function benchPluginBinary(): Promise<void> {
  // Removes the copies however the bench ends, Ctrl-C included.
  const scratch = new Scratch("wbb");
  const dir = scratch.tempDir("bin");
  try {
    const bin = installPlugins(dir, ["bridge"]);
    const weft = join(bin, "weft");
    const ref = join(bin, "bridge");
    const built = join(root, "build/weft-cni");
    const w = startup(weft);
    const r = startup(ref);
    const b = startup(built);
    process.stdout.write("\nbench/plugin-binary — CNI VERSION, spawned from Node (spawn overhead included in both)\n");
    printTable([
      ["executable", "size", "start p50", "start p99"],
      ["weft (QuickJS, static), installed", `${(statSync(weft).size / 1e6).toFixed(1)} MB`, ms(percentile(w, 50)), ms(percentile(w, 99))],
      ["reference bridge (Go), installed", `${(statSync(ref).size / 1e6).toFixed(1)} MB`, ms(percentile(r, 50)), ms(percentile(r, 99))],
      ["ratio weft/ref", (statSync(weft).size / statSync(ref).size).toFixed(1), (percentile(w, 50) / percentile(r, 50)).toFixed(2), (percentile(w, 99) / percentile(r, 99)).toFixed(2)],
      ["weft as found in build/", "", ms(percentile(b, 50)), ms(percentile(b, 99))],
    ]);
  } finally {
    scratch.dispose();
  }
}

if (import.meta.main) await benchPluginBinary();
