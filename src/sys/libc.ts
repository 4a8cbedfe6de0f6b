/**
 * Syscalls through Bun's FFI into libc. Only the compiled CNI plugin loads
 * this module (Node cannot import bun:ffi). Measured on the dev machine: the
 * compiled plugin with this module starts in ~5 ms; see bench/cni-add.
 */
import { dlopen, FFIType, read } from "bun:ffi";
import { SysError, type Syscalls } from "./syscalls.ts";

const { i32, u64, ptr } = FFIType;
const lib = dlopen("libc.so.6", {
  socket: { args: [i32, i32, i32], returns: i32 },
  send: { args: [i32, ptr, u64, i32], returns: i32 },
  recv: { args: [i32, ptr, u64, i32], returns: i32 },
  setns: { args: [i32, i32], returns: i32 },
  flock: { args: [i32, i32], returns: i32 },
  close: { args: [i32], returns: i32 },
  __errno_location: { args: [], returns: ptr },
}).symbols;

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const NETLINK_ROUTE = 0;
const CLONE_NEWNET = 0x40000000;
const EINTR = 4;

function errno(): number {
  const p = lib.__errno_location();
  return p === null ? 0 : read.i32(p, 0);
}

function check(what: string, rc: number): number {
  if (rc < 0) throw new SysError(what, errno());
  return rc;
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
  setns: (nsFd) => void check("setns", lib.setns(nsFd, CLONE_NEWNET)),
  flock(fd, op) {
    for (;;) {
      if (lib.flock(fd, op) === 0) return;
      const e = errno();
      if (e !== EINTR) throw new SysError("flock", e);
    }
  },
  close: (fd) => void lib.close(fd),
};
