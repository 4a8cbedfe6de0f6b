/**
 * The QuickJS host of weft's small executables (src/sys/qjs-host.c): the
 * CNI plugin and the lab's port server run as bytecode inside it, and
 * `weftSys`, the one global it adds, is all they have of a platform. Each
 * call returns what libc returns, or minus the errno when it failed.
 * Only those programs' bundles load this module: in Node.js there is no
 * weftSys.
 */
/** The host's calls; a negative number is minus the errno. */
export interface HostSys {
  socket(domain: number, type: number, protocol: number): number;
  send(fd: number, buf: Uint8Array): number;
  recv(fd: number, buf: Uint8Array): number;
  connect(fd: number, addr: Uint8Array, length: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array): number;
  setns(fd: number, nstype: number): number;
  flock(fd: number, op: number): number;
  open(path: string, flags: number, mode: number): number;
  read(fd: number, buf: Uint8Array): number;
  write(fd: number, buf: Uint8Array): number;
  pwrite(fd: number, buf: Uint8Array, offset: number): number;
  rename(from: string, to: string): number;
  unlink(path: string): number;
  mkdir(path: string, mode: number): number;
  access(path: string, mode: number): number;
  /** statx(2) into `buf` (256 bytes). */
  statx(dirfd: number, path: string, flags: number, mask: number, buf: Uint8Array): number;
  /** ioctl(2) with no argument. */
  ioctl(fd: number, request: number): number;
  close(fd: number): number;
  getpid(): number;
  /** The environment, as NAME → value. */
  environ(): Record<string, string>;
  /** Fills `buf` with random bytes (getrandom(2)). */
  random(buf: Uint8Array): number;
  /** _exit(2): no teardown. */
  exit(code: number): never;
  /** UTF-8 of `text`, a lone surrogate as U+FFFD. */
  encodeUtf8(text: string): Uint8Array;
  /** `bytes` as UTF-8, what is not UTF-8 as U+FFFD; or, with `latin1`, each byte as the character of its number. */
  decode(bytes: Uint8Array, latin1: boolean): string;
  bind(fd: number, addr: Uint8Array): number;
  listen(fd: number, backlog: number): number;
  /** accept4(2); the peer's address into `addr` (128 bytes: a sockaddr_storage). */
  accept4(fd: number, addr: Uint8Array, flags: number): number;
  /** recvfrom(2); the sender's address into `addr`. */
  recvfrom(fd: number, buf: Uint8Array, addr: Uint8Array): number;
  sendto(fd: number, buf: Uint8Array, addr: Uint8Array): number;
  shutdown(fd: number, how: number): number;
  /** poll(2) over `fds`, struct pollfd after struct pollfd (8 bytes each: fd, events, revents). */
  poll(fds: Uint8Array, timeoutMs: number): number;
  /** CLOCK_MONOTONIC in milliseconds. */
  now(): number;
  /** The command line, the program's name first. */
  argv(): string[];
  /** From now on, signal `sig` ends the process at once with status `code`. */
  exitOnSignal(sig: number, code: number): number;
  /** From now on, signal `sig` is ignored. */
  ignoreSignal(sig: number): number;
}

declare const weftSys: HostSys;

/** The host's calls. */
export const host: HostSys = weftSys;

