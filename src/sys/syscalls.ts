/**
 * The handful of Linux system calls the CNI plugin needs that neither Node
 * nor Bun exposes: a raw netlink socket, setns(2) and flock(2). The real
 * implementation is sys/libc.ts (Bun FFI, used by the compiled plugin).
 * Every call is synchronous, which is what makes namespace switching safe:
 * nothing else runs on the thread while it is in another namespace.
 */
export interface Syscalls {
  /** Opens a NETLINK_ROUTE socket in the thread's current network namespace. */
  netlinkSocket(): number;
  /** Sends one datagram; throws SysError on failure. */
  send(fd: number, buf: Uint8Array): void;
  /** Receives one datagram into `buf`; returns its length. */
  recv(fd: number, buf: Uint8Array): number;
  /** Moves the calling thread into the network namespace open at `nsFd`. */
  setns(nsFd: number): void;
  /** flock(2): LOCK_EX = 2, LOCK_UN = 8. Blocks until granted. */
  flock(fd: number, op: number): void;
  close(fd: number): void;
}

export const LOCK_EX = 2;
export const LOCK_UN = 8;

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 9: "EBADF", 13: "EACCES", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV",
  22: "EINVAL", 23: "ENFILE", 24: "EMFILE", 28: "ENOSPC", 34: "ERANGE", 95: "EOPNOTSUPP", 99: "EADDRNOTAVAIL", 101: "ENETUNREACH",
};

/** A failed system call or netlink request, with its errno. */
export class SysError extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(what: string, errno: number) {
    const name = ERRNO_NAMES[errno] ?? `errno ${errno}`;
    super(`${what}: ${name}`);
    this.name = "SysError";
    this.errno = errno;
    this.code = name;
  }
}
