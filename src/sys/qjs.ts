/**
 * The system calls of the compiled CNI plugin, through its QuickJS host
 * (qjs-host.ts). Only the plugin's bundle loads this module.
 *
 * The host is all the plugin has of a platform: its environment, its
 * pid, exit(2), random bytes and UTF-8. This module puts the few globals
 * the plugin's code shares with the Node.js side in place before anything
 * else runs (import it first): `process.env`, `process.pid`,
 * `crypto.getRandomValues`, `TextEncoder` and `TextDecoder` ("utf-8" with
 * U+FFFD for what is not UTF-8, as the standard's; "latin1" as one
 * character per byte, what sys/files.ts reads a damaged file with).
 */
import { host as sys } from "./qjs-host.ts";
import { IoError, SysError, type FileStat, type Syscalls } from "./syscalls.ts";

class HostTextEncoder {
  readonly encoding = "utf-8";
  encode(text = ""): Uint8Array {
    return sys.encodeUtf8(text);
  }
}

class HostTextDecoder {
  readonly encoding: string;
  readonly #latin1: boolean;
  constructor(label = "utf-8", options?: { fatal?: boolean; ignoreBOM?: boolean }) {
    const l = label.toLowerCase();
    if (l === "utf-8" || l === "utf8") this.encoding = "utf-8";
    else if (l === "latin1" || l === "iso-8859-1") this.encoding = "latin1";
    else throw new RangeError(`the plugin's TextDecoder has no encoding ${label}`);
    // What the host does not do is refused, not ignored.
    if (options?.fatal || options?.ignoreBOM) throw new RangeError("the plugin's TextDecoder has neither fatal nor ignoreBOM");
    this.#latin1 = this.encoding === "latin1";
  }
  decode(bytes?: Uint8Array, options?: { stream?: boolean }): string {
    if (options?.stream) throw new RangeError("the plugin's TextDecoder does not stream");
    return bytes ? sys.decode(bytes, this.#latin1) : "";
  }
}

const g = globalThis as Record<string, unknown>;
g.process = { env: sys.environ(), pid: sys.getpid() };
g.crypto = {
  getRandomValues<T extends Uint8Array>(buf: T): T {
    if (sys.random(buf) < 0) throw new Error("getrandom failed");
    return buf;
  },
};
g.TextEncoder = HostTextEncoder;
g.TextDecoder = HostTextDecoder;

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

/** `call` again while it fails with EINTR; its last result. */
function eintr(call: () => number): number {
  for (;;) {
    const rc = call();
    if (rc !== -EINTR) return rc;
  }
}

/** A call's result, or SysError(`what`) when it failed. */
function check(what: string, rc: number): number {
  if (rc < 0) throw new SysError(what, -rc);
  return rc;
}

/** A file call's result, retried on EINTR; IoError(`what`) when it failed. */
function retry(what: () => string, call: () => number): number {
  const rc = eintr(call);
  if (rc < 0) throw new IoError(what(), -rc);
  return rc;
}

/** The real syscalls, in the compiled plugin. */
export const qjsSyscalls: Syscalls = {
  netlinkSocket: () => check("socket(AF_NETLINK)", sys.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)),
  send(fd, buf) {
    const n = check("netlink send", sys.send(fd, buf));
    if (n !== buf.length) throw new SysError("netlink send (short write)", 0);
  },
  recv: (fd, buf) => check("netlink recv", eintr(() => sys.recv(fd, buf))),
  unixConnect(path, timeoutMs) {
    const name = sys.encodeUtf8(path);
    if (name.length >= SOCKADDR_UN - 2) throw new IoError(`connect ${path} (longer than a unix socket path can be)`, 36);
    const addr = new Uint8Array(SOCKADDR_UN);
    addr[0] = AF_UNIX;
    addr.set(name, 2);
    // struct timeval: tv_sec and tv_usec, 64 bits each.
    const tv = new Uint8Array(16);
    const view = new DataView(tv.buffer);
    view.setBigInt64(0, BigInt((timeoutMs - (timeoutMs % 1000)) / 1000), true);
    view.setBigInt64(8, BigInt((timeoutMs % 1000) * 1000), true);
    const fd = retry(() => `socket(AF_UNIX) for ${path}`, () => sys.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    try {
      retry(() => `setsockopt ${path}`, () => sys.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv));
      retry(() => `setsockopt ${path}`, () => sys.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv));
      retry(() => `connect ${path}`, () => sys.connect(fd, addr, 2 + name.length + 1));
    } catch (err) {
      sys.close(fd);
      throw err;
    }
    return fd;
  },
  setns: (nsFd) => void check("setns", sys.setns(nsFd, CLONE_NEWNET)),
  flock: (fd, op) => void check("flock", eintr(() => sys.flock(fd, op))),
  open: (path, flags, mode) => retry(() => `open ${path}`, () => sys.open(path, flags | O_CLOEXEC, mode)),
  read: (fd, buf) => retry(() => `read fd ${fd}`, () => sys.read(fd, buf)),
  write: (fd, buf) => retry(() => `write fd ${fd}`, () => sys.write(fd, buf)),
  pwrite: (fd, buf, offset) => retry(() => `write fd ${fd}`, () => sys.pwrite(fd, buf, offset)),
  rename: (from, to) => void retry(() => `rename ${from} to ${to}`, () => sys.rename(from, to)),
  unlink: (path) => void retry(() => `unlink ${path}`, () => sys.unlink(path)),
  mkdir: (path, mode) => void retry(() => `mkdir ${path}`, () => sys.mkdir(path, mode)),
  access: (path, mode) => void retry(() => `access ${path}`, () => sys.access(path, mode)),
  stat(path) {
    retry(() => `stat ${path}`, () => sys.statx(AT_FDCWD, path, 0, STATX_TYPE | STATX_INO, statxBuf));
    return readStatx();
  },
  fstat(fd) {
    retry(() => `stat fd ${fd}`, () => sys.statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO, statxBuf));
    return readStatx();
  },
  nsType: (fd) => check(`ioctl(NS_GET_NSTYPE) fd ${fd}`, sys.ioctl(fd, NS_GET_NSTYPE)),
  close: (fd) => void sys.close(fd),
};

/** Ends the process with `code` at once, without any teardown. */
export function exitNow(code: number): never {
  return sys.exit(code);
}
