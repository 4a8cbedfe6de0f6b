/**
 * How full this node's pod subnet is, read from the CNI plugin's IPAM store
 * (`<ipamDir>/weft/allocations.json`, format in src/ipam/store.ts). The
 * agent only reads: the file is replaced atomically by the plugin, so no
 * lock is needed, and the agent never takes the plugin's lock (a pod ADD
 * must not wait for a status request).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { WeftError } from "../lib/errors.ts";
import { contains, formatPrefix, parsePrefix, sizeOf, tryParseIp } from "../lib/ipv4.ts";

/** The CNI network name the plugin keeps its store under. */
const NETWORK = "weft";

/** Error code: allocations.json exists but is not what the plugin writes. */
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

/** The store file for IPAM data directory `ipamDir`. */
export function allocationsFile(ipamDir: string): string {
  return join(ipamDir, NETWORK, "allocations.json");
}

/**
 * Reads the store under `ipamDir` for node subnet `subnet`. A missing file
 * means nothing is allocated; a damaged one is IPAM_STORE_INVALID naming it.
 * Allocations outside `subnet` (left from an earlier lease) are not counted.
 */
export function readIpamUsage(ipamDir: string, subnet: string): IpamUsage {
  const prefix = parsePrefix(subnet, "node subnet");
  const file = allocationsFile(ipamDir);
  const capacity = Math.max(0, sizeOf(prefix) - 3);
  const pods = readAllocations(file)
    .filter((a) => contains(prefix, tryParseIp(a.ip)!))
    .sort((a, b) => tryParseIp(a.ip)! - tryParseIp(b.ip)!);
  return { subnet: formatPrefix(prefix), capacity, used: pods.length, free: Math.max(0, capacity - pods.length), pods };
}

function readAllocations(file: string): PodAllocation[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const invalid = (why: string) =>
    new WeftError(IPAM_STORE_INVALID, `IPAM store ${file} is not valid: ${why}`, {
      hint: "move the file aside; running pods keep their addresses, and CNI DEL/GC will tidy up",
    });
  let state: unknown;
  try {
    state = JSON.parse(text);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  if (!isObject(state) || state.version !== 1 || !isObject(state.allocations)) throw invalid('expected {"version":1,"allocations":{…}}');
  return Object.entries(state.allocations).map(([ip, owner]) => {
    if (tryParseIp(ip) === undefined) throw invalid(`"${ip}" is not an IPv4 address`);
    if (!isObject(owner) || typeof owner.containerId !== "string" || typeof owner.ifname !== "string" || (owner.pod !== undefined && typeof owner.pod !== "string")) {
      throw invalid(`the owner of ${ip} is not {containerId, ifname[, pod]}`);
    }
    return { ip, pod: typeof owner.pod === "string" ? owner.pod : null, containerId: owner.containerId, ifname: owner.ifname };
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
