/**
 * The conflist weft installs, `10-weft.conflist`: weft first, then the
 * reference portmap plugin for hostPort, as flannel ships it.
 */

/** Options for the installed conflist; every path overridable because lab nodes share one filesystem. */
export interface ConflistOptions {
  /** Default `/run/weft/subnet.env`. */
  subnetFile?: string;
  /** Default `/var/lib/weft/ipam`. */
  dataDir?: string;
  /** Default `weft0`. */
  bridge?: string;
  /** Nameservers and search domains for pods (cluster DNS), when given. */
  dns?: { nameservers: string[]; search: string[] };
}

export const CONFLIST_NAME = "10-weft.conflist";

export function buildConflist(o: ConflistOptions = {}): Record<string, unknown> {
  const weft: Record<string, unknown> = { type: "weft" };
  if (o.bridge) weft.bridge = o.bridge;
  if (o.subnetFile) weft.subnetFile = o.subnetFile;
  if (o.dataDir) weft.dataDir = o.dataDir;
  if (o.dns) weft.dns = o.dns;
  return {
    cniVersion: "1.0.0",
    name: "weft",
    plugins: [weft, { type: "portmap", capabilities: { portMappings: true } }],
  };
}
