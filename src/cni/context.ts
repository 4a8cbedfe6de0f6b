/**
 * What every verb needs from the machine: the syscalls, files, a file lock
 * for the IPAM store, and access to the node's and the pod's network
 * namespaces. Everything goes through Syscalls, not node:fs (see
 * src/sys/syscalls.ts).
 */
import { CniError, ERR_INVALID_ENV } from "./errors.ts";
import { RouteSocket } from "../netlink/socket.ts";
import { sysFiles, type Files } from "../sys/files.ts";
import { CLONE_NEWNET, IoError, LOCK_EX, LOCK_UN, O_APPEND, O_CREAT, O_NOCTTY, O_NONBLOCK, O_RDONLY, O_WRONLY, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFREG, S_IFSOCK, type FileStat, type Syscalls } from "../sys/syscalls.ts";
import type { Locker } from "../ipam/store.ts";

/** File types as an error names them. */
const FILE_TYPES: Record<number, string> = { [S_IFDIR]: "a directory", [S_IFCHR]: "a character device", [S_IFBLK]: "a block device", [S_IFIFO]: "a FIFO", [S_IFSOCK]: "a socket" };

/** CLONE_NEW* namespace types as an error names them. */
const NAMESPACE_TYPES: Record<number, string> = { 0x20000: "mount", 0x2000000: "cgroup", 0x4000000: "UTS", 0x8000000: "IPC", 0x10000000: "user", 0x20000000: "PID", 0x80: "time" };

export class Machine {
  readonly sys: Syscalls;
  readonly files: Files;
  readonly #opened: Array<{ close(): void }> = [];

  constructor(sys: Syscalls) {
    this.sys = sys;
    this.files = sysFiles(sys);
  }

  /**
   * A flock(2)-based Locker for the IPAM store. The lock file is opened
   * read-only (flock needs no more), so a store on a read-only mount can
   * still be read under the lock; it is made when it is missing.
   */
  readonly lock: Locker = (path) => {
    let fd: number;
    try {
      fd = this.sys.open(path, O_RDONLY, 0);
    } catch (err) {
      if (!(err instanceof IoError && err.code === "ENOENT")) throw err;
      try {
        fd = this.sys.open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600);
      } catch (err2) {
        // On a read-only mount nobody can change the store, so there is nothing to lock out.
        if (err2 instanceof IoError && err2.code === "EROFS") return () => {};
        throw err2;
      }
    }
    this.sys.flock(fd, LOCK_EX);
    return () => {
      this.sys.flock(fd, LOCK_UN);
      this.sys.close(fd);
    };
  };

  /** A rtnetlink socket in the node's namespace (the one the plugin runs in). */
  nodeSocket(): RouteSocket {
    return this.#track(RouteSocket.open(this.sys));
  }

  /**
   * Opens the pod's network namespace, checking first that `path` is one,
   * and not the node's own: error 4 naming the path otherwise. It is
   * stat'ed before it is opened, so a FIFO (whose open would block) or a
   * device (whose open may do something) is refused without an open.
   */
  openNetns(path: string): number {
    const refuse = (why: string) => new CniError(ERR_INVALID_ENV, `CNI_NETNS ${path} ${why}`, "CNI_NETNS must name the pod's network namespace, such as /run/netns/NAME or /proc/PID/ns/net");
    const gone = (err: unknown) => {
      const code = err instanceof IoError ? err.code : (err as Error).message;
      return refuse(`cannot be opened: ${code}${code === "ENOENT" ? " (is the pod's network namespace gone?)" : ""}`);
    };
    let st: FileStat;
    try {
      st = this.sys.stat(path);
    } catch (err) {
      throw gone(err);
    }
    // A namespace file (nsfs) is a regular file.
    if (st.type !== S_IFREG) throw refuse(`is not a network namespace (${FILE_TYPES[st.type] ?? "not a regular file"})`);
    let fd: number;
    try {
      fd = this.sys.open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
    } catch (err) {
      throw gone(err);
    }
    this.#opened.push({ close: () => this.sys.close(fd) });
    let type: number;
    try {
      type = this.sys.nsType(fd);
    } catch {
      throw refuse("is not a network namespace (a regular file)");
    }
    if (type !== CLONE_NEWNET) throw refuse(`is a ${NAMESPACE_TYPES[type] ?? "non-network"} namespace, not a network namespace`);
    const pod = this.sys.fstat(fd);
    const node = this.sys.stat("/proc/thread-self/ns/net");
    if (pod.dev === node.dev && pod.ino === node.ino) throw refuse("is the node's own network namespace (the one the plugin runs in): the pod's address and default route would land on the node");
    return fd;
  }

  /** A rtnetlink socket inside the namespace open at `nsFd`. */
  podSocket(nsFd: number): RouteSocket {
    const self = this.sys.open("/proc/thread-self/ns/net", O_RDONLY, 0);
    try {
      return this.#track(RouteSocket.openIn(this.sys, nsFd, self));
    } finally {
      this.sys.close(self);
    }
  }

  /** Closes every socket and namespace fd this machine opened. */
  close(): void {
    for (const o of this.#opened.splice(0)) o.close();
  }

  #track(s: RouteSocket): RouteSocket {
    this.#opened.push(s);
    return s;
  }
}
