/**
 * Sysctls under net.* are per network namespace: the value a process sees is
 * that of the namespace it runs in. So the write goes through the Runner,
 * whose child process is in the right namespace, never through this
 * process's own /proc/sys.
 */
import { WeftError } from "../lib/errors.ts";
import { type Runner } from "./runner.ts";

/**
 * Sets sysctl `key` (e.g. `net.ipv4.ip_forward`) to `value`, writing only
 * when it differs, in one process. A container that is not privileged sees
 * /proc/sys read-only, so an agent run as a DaemonSet with NET_ADMIN alone
 * works on a node where the value is already set (kubeadm's pre-flight
 * checks require ip_forward=1) and says what to do where it is not.
 */
export async function ensureSysctl(runner: Runner, key: string, value: string): Promise<void> {
  const r = await runner.exec(["sh", "-c", 'test "$(sysctl -n "$1")" = "$2" || sysctl -qw "$1=$2"', "sh", key, value]);
  if (r.code === 0) return;
  const why = r.stderr.trim() || `exit status ${r.code}`;
  const readOnly = /permission denied|read-only/i.test(why);
  throw new WeftError("SYSCTL_FAILED", `cannot set ${key}=${value}: ${why}`, {
    hint: readOnly
      ? `/proc/sys is read-only here (a container that is not privileged): set it on the node (sysctl -w ${key}=${value}, and in /etc/sysctl.d to keep it), or run the agent privileged`
      : `set it by hand: sysctl -w ${key}=${value}`,
  });
}
