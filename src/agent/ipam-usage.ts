/**
 * How full this node's pod subnet is, read from the CNI plugin's IPAM store
 * (`<ipamDir>/weft/addresses`, format in src/ipam/records.ts). The agent
 * only reads, and never takes the plugin's lock (see readSettled).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { WeftError } from "../lib/errors.ts";
import { contains, formatPrefix, parsePrefix, sizeOf, tryParseIp } from "../lib/ipv4.ts";
import { parseTable, parseVersion1, type Allocation } from "../ipam/records.ts";

/** The CNI network name the plugin keeps its store under. */
const NETWORK = "weft";

/** Error code: the store exists but is not what the plugin writes. */
export const IPAM_STORE_INVALID = "IPAM_STORE_INVALID";

/** One pod address the plugin handed out. */
export interface PodAllocation {
  ip: string;
  /** "namespace/name" when the runtime passed it, else null. */
  pod: string | null;
  containerId: string;
  ifname: string;
}

/** The body of the agent's `/ipam`: the node subnet's addresses. */
export interface IpamUsage {
  subnet: string;
  /** Addresses pods can get: the subnet minus network, gateway and broadcast. */
  capacity: number;
  used: number;
  free: number;
  /** The allocations inside `subnet`, by address. */
  pods: PodAllocation[];
}

/** The store's file for IPAM data directory `ipamDir`. */
export function storeFile(ipamDir: string): string {
  return join(ipamDir, NETWORK, "addresses");
}

/**
 * Reads the store under `ipamDir` for node subnet `subnet`. A missing file
 * means nothing is allocated; a damaged one is IPAM_STORE_INVALID naming it.
 * Allocations outside `subnet` (left from an earlier lease) are not counted.
 */
export function readIpamUsage(ipamDir: string, subnet: string): IpamUsage {
  const prefix = parsePrefix(subnet, "node subnet");
  const capacity = Math.max(0, sizeOf(prefix) - 3);
  const pods = readAllocations(ipamDir)
    .filter((a) => contains(prefix, tryParseIp(a.ip)!))
    .sort((a, b) => tryParseIp(a.ip)! - tryParseIp(b.ip)!)
    .map((a) => ({ ip: a.ip, pod: a.pod ?? null, containerId: a.containerId, ifname: a.ifname }));
  return { subnet: formatPrefix(prefix), capacity, used: pods.length, free: Math.max(0, capacity - pods.length), pods };
}

/** The allocations in `addresses`, or in a version-1 store no plugin call has carried over yet. */
function readAllocations(ipamDir: string): Allocation[] {
  const file = storeFile(ipamDir);
  const invalid = (path: string, err: unknown) =>
    new WeftError(IPAM_STORE_INVALID, `IPAM store ${path} is not valid: ${(err as Error).message}`, {
      hint: "move the file aside; running pods keep their addresses, and CNI DEL/GC will tidy up",
    });
  const text = readSettled(file);
  if (text !== undefined) {
    try {
      return parseTable(text).slots.filter((a) => a !== undefined);
    } catch (err) {
      throw invalid(file, err);
    }
  }
  const legacy = join(ipamDir, NETWORK, "allocations.json");
  const old = readIfThere(legacy);
  if (old === undefined) return [];
  try {
    return parseVersion1(old).allocations;
  } catch (err) {
    throw invalid(legacy, err);
  }
}

/**
 * The file as it stands between two writes. The plugin changes records in
 * place under a lock the agent does not take (a pod ADD must not wait for a
 * status request), so a read can catch a record half-written; two reads
 * that agree did not.
 */
function readSettled(file: string): string | undefined {
  let text = readIfThere(file);
  for (let i = 0; i < 10 && text !== undefined; i++) {
    const again = readIfThere(file);
    if (again === text) return text;
    text = again;
  }
  return text;
}

function readIfThere(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
