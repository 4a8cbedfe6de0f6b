/**
 * The Linux system calls the CNI plugin makes itself: a raw netlink socket,
 * setns(2) and flock(2), which Node does not expose, and the few file
 * calls it needs: the compiled plugin has no platform but these. The real
 * implementation is sys/qjs.ts (the plugin's QuickJS host, sys/qjs-host.c).
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
  /**
   * Connects a stream socket to the unix socket at `path`, with send and
   * receive timeouts of `timeoutMs` (connect, write and read then fail with
   * EAGAIN instead of blocking longer); returns its fd. Throws IoError:
   * ENOENT or ECONNREFUSED when nobody listens there.
   */
  unixConnect(path: string, timeoutMs: number): number;
  /** Moves the calling thread into the network namespace open at `nsFd`. */
  setns(nsFd: number): void;
  /** flock(2): LOCK_EX = 2, LOCK_UN = 8. Blocks until granted. */
  flock(fd: number, op: number): void;
  /** open(2) with O_* flags (O_CLOEXEC is always added); throws IoError naming `path`. */
  open(path: string, flags: number, mode: number): number;
  /** read(2) into `buf`; returns the count, 0 at end of file. Throws IoError. */
  read(fd: number, buf: Uint8Array): number;
  /** write(2) from `buf`; returns the count written. Throws IoError. */
  write(fd: number, buf: Uint8Array): number;
  /** pwrite(2): writes `buf` at byte `offset`; returns the count written. Throws IoError. */
  pwrite(fd: number, buf: Uint8Array, offset: number): number;
  /** rename(2); throws IoError. */
  rename(from: string, to: string): void;
  /** unlink(2); throws IoError (ENOENT when it is not there). */
  unlink(path: string): void;
  /** mkdir(2) of one directory; throws IoError (EEXIST when it exists). */
  mkdir(path: string, mode: number): void;
  /** access(2): throws IoError when `path` cannot be used with `mode` (W_OK: EROFS on a read-only mount). */
  access(path: string, mode: number): void;
  /** statx(2) of `path`, following symbolic links; throws IoError. */
  stat(path: string): FileStat;
  /** statx(2) of the open file `fd`; throws IoError. */
  fstat(fd: number): FileStat;
  /** ioctl(NS_GET_NSTYPE): the CLONE_NEW* type of the namespace open at `fd`; throws SysError (ENOTTY: not a namespace). */
  nsType(fd: number): number;
  close(fd: number): void;
}

/** What weft needs of a file's status: its type and its identity. */
export interface FileStat {
  /** st_mode's file type bits (S_IF*). */
  type: number;
  /** The device the file is on and its inode: equal for two paths to one namespace. */
  dev: number;
  ino: number;
}

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;

export const CLONE_NEWNET = 0x40000000;
export const W_OK = 2;

export const LOCK_EX = 2;
export const LOCK_UN = 8;

/** open(2) flags, the same on x86-64 and arm64. */
export const O_RDONLY = 0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NOCTTY = 0o400;
export const O_NONBLOCK = 0o4000;

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 5: "EIO", 6: "ENXIO", 9: "EBADF", 11: "EAGAIN", 13: "EACCES", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 20: "ENOTDIR",
  21: "EISDIR", 22: "EINVAL", 23: "ENFILE", 24: "EMFILE", 28: "ENOSPC", 30: "EROFS", 34: "ERANGE", 36: "ENAMETOOLONG", 40: "ELOOP",
  25: "ENOTTY", 32: "EPIPE", 95: "EOPNOTSUPP", 98: "EADDRINUSE", 99: "EADDRNOTAVAIL", 101: "ENETUNREACH", 104: "ECONNRESET", 111: "ECONNREFUSED", 122: "EDQUOT"
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

/** A failed file system call; the CNI plugin reports it as an I/O failure (code 5). */
export class IoError extends SysError {
  constructor(what: string, errno: number) {
    super(what, errno);
    this.name = "IoError";
  }
}
