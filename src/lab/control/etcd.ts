/**
 * The etcd the control plane stores its objects in: Debian's etcd-server
 * (3.4), which scripts/setup.sh installs. kube-apiserver v1.37 was measured
 * against it (creates, lists, watches, and this lab's tests); see
 * scripts/kubernetes.sh for the numbers.
 */
import { existsSync } from "node:fs";
import { WeftError } from "../../lib/errors.ts";

/** Debian's etcd-server binary. */
export const ETCD_BINARY = "/usr/bin/etcd";

/** The etcd binary; throws ETCD_MISSING when it is not installed. */
export function etcdBinary(): string {
  if (!existsSync(ETCD_BINARY)) {
    throw new WeftError("ETCD_MISSING", `etcd is not installed (no ${ETCD_BINARY})`, { hint: "install Debian's etcd-server (scripts/setup.sh does), or use weft lab up --no-kubernetes" });
  }
  return ETCD_BINARY;
}
