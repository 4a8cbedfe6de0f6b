/**
 * Syscalls through Bun's FFI into libc. Only the compiled CNI plugin loads
 * this module (Node cannot import bun:ffi). Measured on the dev machine:
 * dlopen with these symbols costs ~0.1 ms; see bench/cni-add.
 */
import { dlopen, FFIType, read } from "bun:ffi";
import { IoError, SysError, type FileStat, type Syscalls } from "./syscalls.ts";

const { i32, u32, i64_fast, u64, ptr } = FFIType;
const lib = dlopen("libc.so.6", {
  socket: { args: [i32, i32, i32], returns: i32 },
  send: { args: [i32, ptr, u64, i32], returns: i32 },
  recv: { args: [i32, ptr, u64, i32], returns: i32 },
  connect: { args: [i32, ptr, u32], returns: i32 },
  setsockopt: { args: [i32, i32, i32, ptr, u32], returns: i32 },
  setns: { args: [i32, i32], returns: i32 },
  flock: { args: [i32, i32], returns: i32 },
  // open(2) is variadic; passing the mode as a third fixed argument is what
  // every caller of the syscall wrapper does, and glibc reads it only with
  // O_CREAT.
  open: { args: [ptr, i32, u32], returns: i32 },
  read: { args: [i32, ptr, u64], returns: i64_fast },
  write: { args: [i32, ptr, u64], returns: i64_fast },
  pwrite: { args: [i32, ptr, u64, i64_fast], returns: i64_fast },
  rename: { args: [ptr, ptr], returns: i32 },
  unlink: { args: [ptr], returns: i32 },
  mkdir: { args: [ptr, u32], returns: i32 },
  access: { args: [ptr, i32], returns: i32 },
  statx: { args: [i32, ptr, i32, u32, ptr], returns: i32 },
  // ioctl(2) is variadic too; NS_GET_NSTYPE takes no argument, so a zero is passed.
  ioctl: { args: [i32, u64, u64], returns: i32 },
  close: { args: [i32], returns: i32 },
  __errno_location: { args: [], returns: ptr },
}).symbols;

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const NETLINK_ROUTE = 0;
const CLONE_NEWNET = 0x40000000;
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SO_SNDTIMEO = 21;
/** sizeof(struct sockaddr_un): sun_family (2 bytes) and sun_path (108). */
const SOCKADDR_UN = 110;
const O_CLOEXEC = 0o2000000;
const EINTR = 4;
const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const STATX_TYPE = 0x1;
const STATX_INO = 0x100;
/** _IO(0xb7, 0x3), from linux/nsfs.h. */
const NS_GET_NSTYPE = 0xb703;
const EMPTY_PATH = new Uint8Array(1);

/** One struct statx (256 bytes), reused: every call is synchronous. */
const statxBuf = new Uint8Array(256);
const statxView = new DataView(statxBuf.buffer);

/** The fields of statxBuf weft reads: stx_mode (offset 28), stx_ino (32), stx_dev_major/minor (136, 140). */
function readStatx(): FileStat {
  return {
    type: statxView.getUint16(28, true) & 0o170000,
    ino: statxView.getUint32(32, true) + statxView.getUint32(36, true) * 2 ** 32,
    dev: statxView.getUint32(136, true) * 2 ** 20 + statxView.getUint32(140, true),
  };
}

const utf8 = new TextEncoder();

function errno(): number {
  const p = lib.__errno_location();
  return p === null ? 0 : read.i32(p, 0);
}

function check(what: string, rc: number): number {
  if (rc < 0) throw new SysError(what, errno());
  return rc;
}

/** Retries a call that failed with EINTR; throws IoError(`what`) on any other failure. */
function retry(what: () => string, call: () => number | bigint): number {
  for (;;) {
    const rc = Number(call());
    if (rc >= 0) return rc;
    const e = errno();
    if (e !== EINTR) throw new IoError(what(), e);
  }
}

/** A path as the NUL-terminated bytes a system call takes. */
function cPath(path: string): Uint8Array {
  return utf8.encode(`${path}\0`);
}

/** The real syscalls. */
export const libc: Syscalls = {
  netlinkSocket: () => check("socket(AF_NETLINK)", lib.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)),
  send(fd, buf) {
    const n = check("netlink send", lib.send(fd, buf, buf.length, 0));
    if (n !== buf.length) throw new SysError("netlink send (short write)", 0);
  },
  recv(fd, buf) {
    for (;;) {
      const n = lib.recv(fd, buf, buf.length, 0);
      if (n >= 0) return n;
      const e = errno();
      if (e !== EINTR) throw new SysError("netlink recv", e);
    }
  },
  unixConnect(path, timeoutMs) {
    const name = utf8.encode(path);
    if (name.length >= SOCKADDR_UN - 2) throw new IoError(`connect ${path} (longer than a unix socket path can be)`, 36);
    const addr = new Uint8Array(SOCKADDR_UN);
    addr[0] = AF_UNIX;
    addr.set(name, 2);
    // struct timeval: tv_sec and tv_usec, 64 bits each.
    const tv = new Uint8Array(16);
    const view = new DataView(tv.buffer);
    view.setBigInt64(0, BigInt((timeoutMs - (timeoutMs % 1000)) / 1000), true); // no Math: see cni/main.ts
    view.setBigInt64(8, BigInt((timeoutMs % 1000) * 1000), true);
    const fd = retry(() => `socket(AF_UNIX) for ${path}`, () => lib.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    try {
      retry(() => `setsockopt ${path}`, () => lib.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16));
      retry(() => `setsockopt ${path}`, () => lib.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv, 16));
      retry(() => `connect ${path}`, () => lib.connect(fd, addr, 2 + name.length + 1));
    } catch (err) {
      lib.close(fd);
      throw err;
    }
    return fd;
  },
  setns: (nsFd) => void check("setns", lib.setns(nsFd, CLONE_NEWNET)),
  flock(fd, op) {
    for (;;) {
      if (lib.flock(fd, op) === 0) return;
      const e = errno();
      if (e !== EINTR) throw new SysError("flock", e);
    }
  },
  open(path, flags, mode) {
    const p = cPath(path);
    return retry(() => `open ${path}`, () => lib.open(p, flags | O_CLOEXEC, mode));
  },
  read: (fd, buf) => retry(() => `read fd ${fd}`, () => lib.read(fd, buf, buf.length)),
  write: (fd, buf) => retry(() => `write fd ${fd}`, () => lib.write(fd, buf, buf.length)),
  pwrite: (fd, buf, offset) => retry(() => `write fd ${fd}`, () => lib.pwrite(fd, buf, buf.length, offset)),
  rename(from, to) {
    const a = cPath(from);
    const b = cPath(to);
    retry(() => `rename ${from} to ${to}`, () => lib.rename(a, b));
  },
  unlink(path) {
    const p = cPath(path);
    retry(() => `unlink ${path}`, () => lib.unlink(p));
  },
  mkdir(path, mode) {
    const p = cPath(path);
    retry(() => `mkdir ${path}`, () => lib.mkdir(p, mode));
  },
  access(path, mode) {
    const p = cPath(path);
    retry(() => `access ${path}`, () => lib.access(p, mode));
  },
  stat(path) {
    const p = cPath(path);
    retry(() => `stat ${path}`, () => lib.statx(AT_FDCWD, p, 0, STATX_TYPE | STATX_INO, statxBuf));
    return readStatx();
  },
  fstat(fd) {
    retry(() => `stat fd ${fd}`, () => lib.statx(fd, EMPTY_PATH, AT_EMPTY_PATH, STATX_TYPE | STATX_INO, statxBuf));
    return readStatx();
  },
  nsType: (fd) => check(`ioctl(NS_GET_NSTYPE) fd ${fd}`, lib.ioctl(fd, NS_GET_NSTYPE, 0)),
  close: (fd) => void lib.close(fd),
};
