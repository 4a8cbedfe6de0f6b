/**
 * How a lab container starts: one launch shell per container, which
 *
 *   1. mounts the container's root: an overlay of the machine's `/` with a
 *      fresh upper layer in the pod's directory, so writes stay in the pod;
 *      proc, sysfs (the pod's network namespace's), /dev, and a fresh /run
 *      (the host's /run holds other pods' secrets);
 *   2. binds each volume at its mountPath (read-only when asked), sets the
 *      pod's hostname;
 *   3. runs the command chrooted there, in its working dir, waits for it
 *      and writes its exit status to the container's exit file, which is how
 *      a restarted kubelet learns how a container it did not start ended.
 *
 * The shell is Debian's static busybox, entered into the pod's network
 * namespace and given a mount and a UTS namespace of its own, slave to the
 * host's mounts, so nothing it mounts is seen outside (launchArgv). Its
 * applets (mount, mkdir, hostname, chroot) run without a new program, and
 * a static program starts in a fraction of a dynamic one's time: a start
 * costs about 11 ms of CPU where `ip netns exec` with dash and
 * util-linux's mount cost 21 (bench/pod-startup.ts is mostly process
 * starts).
 *
 * Kernel state: mounts inside the container's own mount namespace only;
 * they vanish with its last process. Files: the upper layer under the pod's
 * directory, removed with the pod.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { posix } from "node:path";
import { WeftError } from "../../lib/errors.ts";
import { BUSYBOX, shq, systemTool } from "../shell-host.ts";
import { autogroupNiceLine } from "./autogroup.ts";

/**
 * The absolute path of a host tool. Container processes are spawned with
 * the container's environment, whose PATH is not the kubelet's, so host
 * tools (ip, nsenter, script) are named by path.
 */
export const hostTool = systemTool;

/** A host path bound into the container. */
export interface Bind {
  /** Path inside the container. */
  target: string;
  source: string;
  readOnly: boolean;
  /** A file bind (the target is made a file) rather than a directory. */
  file: boolean;
}

/** Everything the launch script needs. */
export interface LaunchPlan {
  rootfs: string;
  upper: string;
  work: string;
  binds: Bind[];
  /** Host files copied to these paths inside the container before it starts. */
  copies: { target: string; source: string }[];
  workingDir: string;
  exitFile: string;
  /**
   * Made empty once the root is mounted, just before the container's own
   * process starts: `kubectl exec` and exec probes wait for it (before it,
   * the launch shell may not even be in its own mount namespace yet).
   */
  startedFile: string;
  /**
   * The CPU weight of the container's session as a nice value (autogroup.ts):
   * BestEffort pods' containers run at 19, as a kubelet gives their cgroup
   * the least CPU weight. Default: unchanged (0).
   */
  cpuNice?: number;
  /** The container's hostname, in a UTS namespace of its own (the pod's name, as kubelet gives it). */
  hostname: string;
  /**
   * SHLVL as the container's environment gives it, if it does: busybox's sh
   * sets and raises it, and the container gets it back as given (or unset).
   */
  shlvl?: string;
  /**
   * A FIFO that becomes the container's stdin (a container with `stdin:
   * true`, which `kubectl attach -i` writes to); opened read-write, so the
   * container never reads end-of-file from it. Default: none, stdin is /dev/null.
   */
  stdin?: string;
}

export { BUSYBOX, shq };

/**
 * `path` with its symlinks resolved as they resolve inside the container,
 * whose root starts as a copy of the machine's: /var/run/secrets becomes
 * /run/secrets. Without this, the launch shell (not yet chrooted) would
 * follow an absolute link like /var/run -> /run out of the container's
 * root and create directories on the machine's own /run.
 */
export function resolveInRoot(path: string): string {
  let todo = path.split("/").filter((s) => s !== "" && s !== ".");
  const done: string[] = [];
  for (let links = 0; todo.length > 0; ) {
    const seg = todo.shift()!;
    if (seg === "..") {
      done.pop();
      continue;
    }
    const here = `/${[...done, seg].join("/")}`;
    let target: string | null = null;
    try {
      if (lstatSync(here).isSymbolicLink()) target = readlinkSync(here);
    } catch {
      // Not on the machine: made inside the container.
    }
    if (target === null) {
      done.push(seg);
      continue;
    }
    if (++links > 40) return here;
    const parts = target.split("/").filter((s) => s !== "" && s !== ".");
    if (target.startsWith("/")) done.length = 0;
    todo = [...parts, ...todo];
  }
  return posix.normalize(`/${done.join("/")}`);
}

/** The directory part of an absolute path ("/" for a top-level name). */
function parent(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** The mounts the launch script makes fresh in every container; paths under them exist only once mounted. */
const CONTAINER_MOUNTS = ["/proc", "/sys", "/dev", "/run"];

function onContainerMount(path: string): boolean {
  return CONTAINER_MOUNTS.some((m) => path === m || path.startsWith(`${m}/`));
}

/** A copy's target with its directory resolved as inside the container; the file itself (often a link) is replaced, not followed. */
function copyTarget(target: string): string {
  const dir = resolveInRoot(parent(target));
  return `${dir === "/" ? "" : dir}/${target.slice(target.lastIndexOf("/") + 1)}`;
}

/**
 * Writes what can be written before the container starts straight into its
 * fresh upper layer: the copied files and the mount points of its binds,
 * except under the mounts the script makes. Each saves the launch shell a
 * few processes (a pod start is mostly process starts).
 */
export function prepareUpper(plan: LaunchPlan): void {
  for (const c of plan.copies) {
    const t = copyTarget(c.target);
    if (onContainerMount(t)) continue;
    mkdirSync(`${plan.upper}${parent(t)}`, { recursive: true });
    writeFileSync(`${plan.upper}${t}`, readFileSync(c.source));
  }
  for (const b of plan.binds) {
    const t = resolveInRoot(b.target);
    if (onContainerMount(t)) continue;
    if (!b.file) {
      mkdirSync(`${plan.upper}${t}`, { recursive: true });
    } else if (!existsSync(t)) {
      mkdirSync(`${plan.upper}${parent(t)}`, { recursive: true });
      writeFileSync(`${plan.upper}${t}`, "");
    }
  }
}

/**
 * The launch script; the container's argv follows as "$@" and its
 * environment is the script's own (host tools are called by absolute
 * PATH set here, the container's PATH is restored before the chroot).
 * prepareUpper must have run first.
 */
export function launchScript(plan: LaunchPlan): string {
  const r = shq(plan.rootfs);
  const inRoot = (p: string) => shq(`${plan.rootfs}${p}`);
  const lines = [
    ...(plan.cpuNice === undefined ? [] : [autogroupNiceLine(plan.cpuNice)]),
    "set -e",
    ...(plan.stdin ? [`exec 0<>${shq(plan.stdin)}`] : []),
    'CPATH="${PATH:-}"',
    "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
    `mount -t overlay overlay -o lowerdir=/,upperdir=${shq(plan.upper)},workdir=${shq(plan.work)} ${r}`,
    `mount -t proc proc ${inRoot("/proc")}`,
    `mount -t sysfs sysfs ${inRoot("/sys")}`,
    `mount -o rbind /dev ${inRoot("/dev")}`,
    // A /dev/shm of its own, as a runtime gives each pod (64 MiB): the host's holds the labs' files.
    `mount -t tmpfs -o nosuid,nodev,mode=1777,size=64m shm ${inRoot("/dev/shm")}`,
    `mount -t tmpfs -o mode=755 tmpfs ${inRoot("/run")}`,
  ];
  const dirs: string[] = [];
  const late: string[] = [];
  for (const c of plan.copies) {
    const t = copyTarget(c.target);
    if (!onContainerMount(t)) continue;
    dirs.push(inRoot(parent(t)));
    late.push(`cat ${shq(c.source)} >${inRoot(t)}`);
  }
  const mounts: string[] = [];
  for (const b of plan.binds) {
    const resolved = resolveInRoot(b.target);
    const t = inRoot(resolved);
    if (onContainerMount(resolved)) {
      if (b.file) {
        dirs.push(inRoot(parent(resolved)));
        late.push(`[ -e ${t} ] || : >${t}`);
      } else {
        dirs.push(t);
      }
    }
    mounts.push(`mount -o bind ${shq(b.source)} ${t}`);
    if (b.readOnly) mounts.push(`mount -o remount,bind,ro ${t}`);
  }
  if (dirs.length > 0) lines.push(`mkdir -p ${[...new Set(dirs)].join(" ")}`);
  lines.push(...late, ...mounts);
  lines.push(
    `hostname ${shq(plan.hostname)}`,
    `: >${shq(plan.startedFile)}`,
    "set +e",
    'PATH="$CPATH"',
    "export PATH",
    plan.shlvl === undefined ? "unset SHLVL" : `SHLVL=${shq(plan.shlvl)}`,
    // By path: the container's PATH is set now, and may not lead to busybox.
    `${shq(BUSYBOX)} chroot ${r} /bin/sh -c 'cd "$0" 2>/dev/null || cd /; exec "$@"' ${shq(plan.workingDir)} "$@"`,
    `echo $? >${shq(plan.exitFile)}`,
  );
  return lines.join("\n") + "\n";
}

/**
 * The argv of a container's launch shell in network namespace `netns`
 * (a name under /run/netns), with `script` (launchScript) and the
 * container's own argv after it. Each program execs the next, so the pid
 * that runs is the shell's.
 */
export function launchArgv(netns: string, script: string, argv: readonly string[]): string[] {
  if (!BUSYBOX.startsWith("/")) {
    throw new WeftError("BUSYBOX_MISSING", "busybox is not installed: a lab container starts through busybox's nsenter, unshare and sh", {
      hint: "install Debian's busybox-static (sh scripts/setup.sh does)",
    });
  }
  return [
    BUSYBOX, "nsenter", `--net=/run/netns/${netns}`,
    BUSYBOX, "unshare", "--mount", "--uts", "--propagation", "slave",
    BUSYBOX, "sh", "-c", script, "weft-container", ...argv,
  ];
}

/**
 * The argv that runs `command` inside a running container: in the mount,
 * network and UTS namespaces of its launch shell `pid` (which unshared the
 * mount and UTS ones and set the hostname before the container's process
 * started), chrooted to its root, in its working dir.
 */
export function execArgv(pid: number, rootfs: string, workingDir: string, command: string[]): string[] {
  return [hostTool("nsenter"), "-t", String(pid), "-m", "-n", "-u", "--", hostTool("chroot"), rootfs, "/bin/sh", "-c", 'cd "$0" 2>/dev/null || cd /; exec "$@"', workingDir, ...command];
}
