/**
 * What every verb needs from the machine: the syscalls, files, a file lock
 * for the IPAM store, and access to the node's and the pod's network
 * namespaces. Everything goes through Syscalls, not node:fs (see
 * src/sys/syscalls.ts).
 */
import { CniError, ERR_INVALID_ENV } from "./errors.ts";
import { RouteSocket } from "../netlink/socket.ts";
import { sysFiles, type Files } from "../sys/files.ts";
import { IoError, LOCK_EX, LOCK_UN, O_APPEND, O_CREAT, O_RDONLY, O_WRONLY, type Syscalls } from "../sys/syscalls.ts";
import type { Locker } from "../ipam/store.ts";

export class Machine {
  readonly sys: Syscalls;
  readonly files: Files;
  readonly #opened: Array<{ close(): void }> = [];

  constructor(sys: Syscalls) {
    this.sys = sys;
    this.files = sysFiles(sys);
  }

  /** A flock(2)-based Locker for the IPAM store. */
  readonly lock: Locker = (path) => {
    const fd = this.sys.open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600);
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

  /** Opens the pod's namespace; error 4 naming the path when it does not exist. */
  openNetns(path: string): number {
    let fd: number;
    try {
      fd = this.sys.open(path, O_RDONLY, 0);
    } catch (err) {
      throw new CniError(ERR_INVALID_ENV, `CNI_NETNS ${path} cannot be opened: ${err instanceof IoError ? err.code : (err as Error).message} (is the pod's network namespace gone?)`);
    }
    this.#opened.push({ close: () => this.sys.close(fd) });
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
