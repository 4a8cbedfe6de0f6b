/**
 * How much CPU a lab container gets when the machine is busy, without
 * cgroups: the CPU weight of its session.
 *
 * A kubelet puts every pod in a cgroup weighed by its QoS class; a
 * BestEffort pod (no requests or limits, like `kubectl create deployment
 * web --image=nginx`) gets the least weight there is (cpu.shares 2, or
 * cpu.weight 1), so it runs on the CPU the node's own processes and the
 * pods with requests leave. The lab makes no cgroups (nothing outside its
 * own directory and namespaces). It uses what the kernel does instead
 * when processes are not in cgroups of their own: autogroups. The
 * scheduler shares the CPU first between sessions, and each lab container
 * is a session of its own (setsid), as is each process the lab supervises
 * (API server, etcd, kubelets); a plain nice would weigh a container only
 * against its own processes. The launch shell sets its session's nice in
 * /proc/self/autogroup: 19 is a weight of 15 against 1024 for every
 * other session, the nearest the kernel has to cpu.shares 2.
 *
 * The line is the launch shell's first, so the container's mounts run at
 * that weight too, as runc's init runs in the container's cgroup. What is
 * not covered, where a kubelet's cgroup would be: processes `kubectl exec`
 * and exec probes start (they are the kubelet's shell host's), and a
 * container's process that starts a session of its own (a new autogroup,
 * at the default weight).
 *
 * Burstable and Guaranteed pods run at the default weight, as the lab's
 * own processes do: a kubelet weighs them by their requests, which
 * without a cgroup hierarchy would set them against the control plane
 * rather than against each other. Limits are not enforced.
 *
 * The line does nothing, and says nothing, where the kernel has no
 * autogroups or they are turned off (kernel.sched_autogroup_enabled), and
 * where the lab's processes are not in the root cpu cgroup (inside a
 * container, or under a systemd that gives services the cpu controller):
 * autogroups weigh only the root group's tasks, and /proc/self/autogroup
 * then shows the nice without effect. The lab runs as root, so the kernel's
 * limit of one autogroup change per 100 ms for others does not apply.
 */

/** The nice value of a BestEffort pod's containers. */
export const BEST_EFFORT_NICE = 19;

/** The nice value for the containers of a pod of QoS class `qosClass` (status.qosClass), or undefined for the default weight. */
export function containerNice(qosClass: string | null): number | undefined {
  return qosClass === "BestEffort" ? BEST_EFFORT_NICE : undefined;
}

/** The launch shell's line that gives its session (autogroup) nice value `nice`. */
export function autogroupNiceLine(nice: number): string {
  if (!Number.isInteger(nice) || nice < -20 || nice > 19) throw new RangeError(`nice ${nice} is not an integer from -20 to 19`);
  return `{ echo ${nice} >/proc/self/autogroup; } 2>/dev/null || :`;
}
