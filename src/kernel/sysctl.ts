/**
 * Sysctls under net.* are per network namespace: the value a process sees is
 * that of the namespace it runs in. So the write goes through the Runner,
 * whose child process is in the right namespace, never through this
 * process's own /proc/sys.
 */
import { run, type Runner } from "./runner.ts";

/** Sets sysctl `key` (e.g. `net.ipv4.ip_forward`) to `value`; writing the value it already has changes nothing. */
export async function ensureSysctl(runner: Runner, key: string, value: string): Promise<void> {
  await run(runner, ["sysctl", "-qw", `${key}=${value}`]);
}
