/**
 * STATUS (CNI 1.1): can this node take new pods? Yes once the agent has
 * written a valid subnet file and the IPAM store is readable. Error 50
 * otherwise, saying why; existing pods are not affected either way.
 */
import { CniError, ERR_NOT_AVAILABLE } from "./errors.ts";
import type { Machine } from "./context.ts";
import type { PluginConfig } from "./config.ts";
import { IpamStore } from "../ipam/store.ts";
import { describeError } from "../lib/errors.ts";
import { readSubnetFileWith } from "../subnet/file.ts";

export function status(m: Machine, conf: PluginConfig): void {
  try {
    readSubnetFileWith(conf.subnetFile, (p) => m.files.readText(p));
    new IpamStore(conf.dataDir, conf.name, m.files, m.lock).list();
  } catch (err) {
    throw new CniError(ERR_NOT_AVAILABLE, `weft cannot add pods on this node: ${describeError(err)}`);
  }
}
