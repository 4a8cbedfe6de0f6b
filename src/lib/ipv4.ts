/**
 * IPv4 addresses and prefixes as plain numbers. weft's address plan (pods,
 * services, underlay) is IPv4; every function here is pure.
 */
import { WeftError } from "./errors.ts";

/** An IPv4 prefix: `base` is the network address as an unsigned 32-bit number. */
export interface Prefix {
  readonly base: number;
  readonly len: number;
}

// Parsed with loops, not RegExps: the CNI plugin parses addresses on every
// ADD in a process that lives a few milliseconds, and the first use of each
// RegExp costs it 30–60 µs to compile (see src/cni/main.ts).

/** True when `text` is `min` to `max` ASCII digits and nothing else. */
export function isDigits(text: string, min = 1, max = Infinity): boolean {
  if (text.length < min || text.length > max) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Parses dotted-quad IPv4 text into an unsigned 32-bit number, or returns undefined. */
export function tryParseIp(text: string): number | undefined {
  let n = 0;
  let octets = 0;
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    if (i < text.length && text.charCodeAt(i) !== 46) continue;
    const part = text.slice(start, i);
    // 1–3 digits, at most 255, no leading zero ("08" is not 8 to everyone).
    if (!isDigits(part, 1, 3) || (part.length > 1 && part.charCodeAt(0) === 48)) return undefined;
    const octet = Number(part);
    if (octet > 255 || ++octets > 4) return undefined;
    n = n * 256 + octet;
    start = i + 1;
  }
  return octets === 4 ? n : undefined;
}

/**
 * The dotted-quad address at `at` in `text` that ends at a space, as
 * tryParseIp reads it, or -1. No slices: the CNI plugin reads the address
 * of every IPAM record this way on every ADD (~0.5 µs a record interpreted,
 * against ~2 µs through slices and tryParseIp).
 */
export function ipBeforeSpace(text: string, at: number): number {
  let n = 0;
  let octet = 0;
  let digits = 0;
  let octets = 0;
  for (let i = at; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      // No leading zero, at most 3 digits, at most 255.
      if (digits > 0 && octet === 0) return -1;
      octet = octet * 10 + c - 48;
      if (++digits > 3 || octet > 255) return -1;
      continue;
    }
    if (digits === 0) return -1;
    n = n * 256 + octet;
    octets++;
    if (c === 46 && octets < 4) {
      octet = 0;
      digits = 0;
      continue;
    }
    return c === 32 && octets === 4 ? n : -1;
  }
  return -1;
}

/** Parses dotted-quad IPv4 text; throws INVALID_IP naming `what` otherwise. */
export function parseIp(text: string, what = "address"): number {
  const n = tryParseIp(text);
  if (n === undefined) throw new WeftError("INVALID_IP", `invalid IPv4 ${what} "${text}"`);
  return n;
}

/** Formats an unsigned 32-bit number as dotted-quad text. */
export function formatIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** The netmask of a prefix length as an unsigned 32-bit number. */
export function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** Parses `a.b.c.d/len`. With `strict`, host bits must be zero. */
export function parsePrefix(text: string, what = "CIDR", strict = true): Prefix {
  const [ip, lenText, extra] = text.split("/");
  const len = Number(lenText);
  const base = ip === undefined ? undefined : tryParseIp(ip);
  if (base === undefined || extra !== undefined || lenText === undefined || !isDigits(lenText, 1, 2) || len > 32) {
    throw new WeftError("INVALID_CIDR", `invalid IPv4 ${what} "${text}" (expected a.b.c.d/len)`);
  }
  if (strict && (base & ~maskOf(len)) >>> 0 !== 0) {
    throw new WeftError("INVALID_CIDR", `invalid IPv4 ${what} "${text}": host bits are set (did you mean ${formatIp((base & maskOf(len)) >>> 0)}/${len}?)`);
  }
  return { base: (base & maskOf(len)) >>> 0, len };
}

/** Parses `a.b.c.d/len` keeping the address: returns the address and its prefix. */
export function parseInterfaceAddress(text: string, what = "address"): { ip: number; prefix: Prefix } {
  const prefix = parsePrefix(text, what, false);
  return { ip: parseIp(text.split("/")[0]!, what), prefix };
}

/** Formats a prefix as `a.b.c.d/len`. */
export function formatPrefix(p: Prefix): string {
  return `${formatIp(p.base)}/${p.len}`;
}

/** Number of addresses in a prefix. */
export function sizeOf(p: Prefix): number {
  return 2 ** (32 - p.len);
}

/** The last address of a prefix (its broadcast address for len < 31). */
export function lastOf(p: Prefix): number {
  return (p.base + sizeOf(p) - 1) >>> 0;
}

/** True when `ip` lies inside `p`. */
export function contains(p: Prefix, ip: number): boolean {
  return ((ip & maskOf(p.len)) >>> 0) === p.base;
}

/** True when the two prefixes share at least one address. */
export function overlaps(a: Prefix, b: Prefix): boolean {
  const len = Math.min(a.len, b.len);
  return ((a.base & maskOf(len)) >>> 0) === ((b.base & maskOf(len)) >>> 0);
}
