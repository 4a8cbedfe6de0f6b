/**
 * What the plugin's IPAM store holds, read from its file the way
 * `weft status ipam` reads it (format: src/ipam/records.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseTable, type Allocation } from "../../src/ipam/records.ts";

/** The allocations in the store under IPAM data directory `dataDir` for `network` (default "weft"); none when it has no file yet. */
export function storedAllocations(dataDir: string, network = "weft"): Allocation[] {
  const file = join(dataDir, network, "addresses");
  if (!existsSync(file)) return [];
  return parseTable(readFileSync(file, "utf8")).slots.filter((a) => a !== undefined);
}
