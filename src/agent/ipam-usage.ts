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
import { IPAM_STORE_REPAIR_HINT } from "../ipam/store.ts";

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
  // Moving a damaged store aside would let the plugin hand running pods' addresses out again: repair it instead.
  const invalid = (path: string, err: unknown, hint = IPAM_STORE_REPAIR_HINT) =>
    new WeftError(IPAM_STORE_INVALID, `IPAM store ${path} is not valid: ${(err as Error).message}`, { hint });
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
    throw invalid(legacy, err, "repair its JSON by hand rather than removing it (the plugin would hand running pods' addresses out again); the plugin's next call carries it over to the current store");
  }
}

/**
 * The file as it stands between two writes. The plugin changes records in
 * place under a lock the agent does not take (a pod ADD must not wait for a
 * status request), so a read can catch a record half-written; two reads
 * that agree did not.
 */
function readSettled(file: string): string | undefined {
  // One character per byte, as the plugin reads it, so a damaged byte cannot shift the records after it.
  let text = readIfThere(file, "latin1");
  for (let i = 0; i < 10 && text !== undefined; i++) {
    const again = readIfThere(file, "latin1");
    if (again === text) return text;
    text = again;
  }
  return text;
}

function readIfThere(file: string, encoding: BufferEncoding = "utf8"): string | undefined {
  try {
    return readFileSync(file, encoding);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
