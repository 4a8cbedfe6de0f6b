/**
 * The subnet file: the contract between the agent, which writes it after it
 * has leased the node subnet, and the CNI plugin, which reads it on every ADD.
 *
 *     WEFT_NETWORK=10.244.0.0/16    the cluster CIDR
 *     WEFT_SUBNET=10.244.1.1/24     the node's gateway address / subnet length
 *     WEFT_MTU=1450                 the MTU for pod interfaces
 *     WEFT_IPMASQ=true              whether the agent masquerades pod traffic
 *
 * Default path `/run/weft/subnet.env`. The agent writes it atomically (a
 * temporary file renamed over the old one), so a reader never sees half.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { readSubnetFileWith, formatSubnetFile, type NodeSubnet } from "./format.ts";

export * from "./format.ts";

/** Reads and parses the subnet file. Throws SUBNET_FILE_MISSING or SUBNET_FILE_INVALID. */
export function readSubnetFile(path: string): NodeSubnet {
  return readSubnetFileWith(path, (p) => {
    try {
      return readFileSync(p, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  });
}

/** Writes the subnet file atomically: a temporary file renamed over `path`. */
export function writeSubnetFile(path: string, s: NodeSubnet): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, formatSubnetFile(s), { mode: 0o644 });
  renameSync(tmp, path);
}
