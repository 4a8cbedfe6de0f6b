/**
 * GC (CNI 1.1): release every address, and remove every host veth, whose
 * attachment is not in `cni.dev/valid-attachments`. Keeps going past a
 * veth it cannot remove and reports the first failure at the end.
 */
import { hostVethName } from "./host.ts";
import type { Machine } from "./context.ts";
import type { PluginConfig } from "./config.ts";
import { CniError, ERR_INVALID_CONFIG } from "./errors.ts";
import { IpamStore } from "../ipam/store.ts";
import { deleteLink } from "../netlink/link.ts";

export function gc(m: Machine, conf: PluginConfig): void {
  if (!conf.validAttachments) throw new CniError(ERR_INVALID_CONFIG, "GC needs cni.dev/valid-attachments in the network configuration");
  const keep = conf.validAttachments.map((a) => ({ containerId: a.containerID, ifname: a.ifname }));
  const released = new IpamStore(conf.dataDir, conf.name, m.files, m.lock).releaseAllExcept(keep);
  const sock = m.nodeSocket();
  let firstError: unknown;
  for (const r of released) {
    try {
      deleteLink(sock, hostVethName(r.containerId, r.ifname));
    } catch (err) {
      firstError ??= err;
    }
  }
  if (firstError) throw firstError;
}
