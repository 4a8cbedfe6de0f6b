/**
 * DEL: release the pod's address and remove its veth. Succeeds when things
 * are already gone — a repeated DEL, a namespace that no longer exists, an
 * attachment never added — because the runtime retries DEL until it does.
 * Needs neither the pod's namespace nor the subnet file: the host veth's
 * name comes from the attachment, and removing it removes its peer.
 */
import { hostVethName } from "./host.ts";
import type { Machine } from "./context.ts";
import type { PluginConfig } from "./config.ts";
import type { CniEnv } from "./env.ts";
import { IpamStore } from "../ipam/store.ts";
import { deleteLink } from "../netlink/link.ts";

export function del(m: Machine, conf: PluginConfig, env: CniEnv): void {
  deleteLink(m.nodeSocket(), hostVethName(env.containerId, env.ifname));
  new IpamStore(conf.dataDir, conf.name, m.files, m.lock).release({ containerId: env.containerId, ifname: env.ifname });
}
