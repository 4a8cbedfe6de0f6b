/**
 * STATUS (CNI 1.1): can this node take new pods? Yes once the agent has
 * written a valid subnet file and the IPAM store is valid and can be
 * written (or made). Error 50 otherwise, saying why; existing pods are not
 * affected either way. It makes no store where there is none.
 */
import { CniError, ERR_NOT_AVAILABLE } from "./errors.ts";
import type { Machine } from "./context.ts";
import type { PluginConfig } from "./config.ts";
import { IpamStore } from "../ipam/store.ts";
import { describeError } from "../lib/errors.ts";
import { readSubnetFileWith } from "../subnet/format.ts";

export function status(m: Machine, conf: PluginConfig): void {
  try {
    readSubnetFileWith(conf.subnetFile, (p) => m.files.readText(p));
    const store = new IpamStore(conf.dataDir, conf.name, m.files, m.lock);
    store.list();
    const unwritable = store.whyNotWritable();
    if (unwritable) throw new Error(`${unwritable}, so ADD could not record a pod's address`);
  } catch (err) {
    throw new CniError(ERR_NOT_AVAILABLE, `weft cannot add pods on this node: ${describeError(err)}`);
  }
}
