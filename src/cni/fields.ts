/**
 * Checks of single configuration values, shared by the plugin's config
 * (config.ts), the previous result it extends (prev-result.ts) and
 * `weft install-cni`, which validates what it writes by the plugin's own
 * rules. Every failure is a CniError naming the field and the value.
 * Loops, not Array builtins or RegExps: the plugin parses its config on
 * every ADD (see src/cni/main.ts).
 */
import { CniError, ERR_INVALID_CONFIG, ERR_UNSUPPORTED_FIELD } from "./errors.ts";
import { isValidIfname } from "./env.ts";
import { tryParseIp } from "../lib/ipv4.ts";
import { isIpv6 } from "../lib/ipv6.ts";

/** DNS settings, in the config (`dns`) and in a result. */
export interface DnsConfig {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/**
 * A value as an error message shows it: JSON, except that a number JSON
 * read as infinite (1e400) is shown as Infinity rather than JSON's null,
 * and a long value is cut short.
 */
export function showValue(v: unknown): string {
  if (typeof v === "number" && !Number.isFinite(v)) return `${v} (a number too large to represent)`;
  let text: string | undefined;
  try {
    text = JSON.stringify(v, (_k, x: unknown) => (typeof x === "number" && !Number.isFinite(x) ? `\u0000${x}` : x));
  } catch {
    text = undefined;
  }
  if (text === undefined) return String(v);
  text = text.replaceAll('"\\u0000Infinity"', "Infinity").replaceAll('"\\u0000-Infinity"', "-Infinity").replaceAll('"\\u0000NaN"', "NaN");
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Error 7 for `field`: "field=value why", or "field is missing; it must …" when there is no value. */
export function invalid(field: string, value: unknown, why: string): CniError {
  if (value === undefined) {
    // "is not an address" of a value becomes "must be an address" of a missing one.
    const must = why.startsWith("is not ") ? `must be ${why.slice(7)}` : why;
    return new CniError(ERR_INVALID_CONFIG, `invalid network configuration: ${field} is missing; it ${must}`);
  }
  return new CniError(ERR_INVALID_CONFIG, `invalid network configuration: ${field}=${showValue(value)} ${why}`);
}

/** Error 2 for a key weft does not know. */
export function unsupported(field: string, value: unknown, why = ""): CniError {
  return new CniError(ERR_UNSUPPORTED_FIELD, `unsupported field in network configuration: ${field}=${showValue(value)}${why}`);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `v` as an object, or error 7 naming `field`. */
export function object(field: string, v: unknown): Record<string, unknown> {
  if (!isObject(v)) throw invalid(field, v, "must be an object");
  return v;
}

/** `v` as a list, or error 7 naming `field`. */
export function list(field: string, v: unknown): unknown[] {
  if (!Array.isArray(v)) throw invalid(field, v, "must be a list");
  return v;
}

/** `v` as a string, or error 7 naming `field`. */
export function string(field: string, v: unknown): string {
  if (typeof v !== "string") throw invalid(field, v, "must be a string");
  return v;
}

/** `v` as an integer from `min` to `max`, or error 7 naming `field`. */
export function integer(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw invalid(field, v, `must be an integer from ${min} to ${max}`);
  return v;
}

/** A list of strings, each passing `check` (described by `what`). */
export function stringList(field: string, v: unknown, check?: (s: string) => boolean, what = "a valid value"): string[] {
  if (!Array.isArray(v)) throw invalid(field, v, "must be a list of strings");
  for (let i = 0; i < v.length; i++) {
    const s: unknown = v[i];
    if (typeof s !== "string") throw invalid(`${field}[${i}]`, s, "must be a string");
    if (check && !check(s)) throw invalid(`${field}[${i}]`, s, `is not ${what}`);
  }
  return v as string[];
}

/** IPv4 or IPv6 address text. */
export function isIpText(s: string): boolean {
  return tryParseIp(s) !== undefined || isIpv6(s);
}

/** An address with a prefix length, IPv4 ("10.1.2.3/24") or IPv6 ("fd00::2/64"); host bits may be set. */
export function isCidrText(s: string): boolean {
  const slash = s.lastIndexOf("/");
  if (slash < 0) return false;
  const ip = s.slice(0, slash);
  const len = s.slice(slash + 1);
  if (len.length < 1 || len.length > 3 || (len.length > 1 && len.charCodeAt(0) === 48)) return false;
  for (let i = 0; i < len.length; i++) {
    const c = len.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  const n = Number(len);
  if (tryParseIp(ip) !== undefined) return n <= 32;
  return isIpv6(ip) && n <= 128;
}

/** `dns` (in the config, or in a result as `prefix`.dns): nameservers, domain, search, options. */
export function parseDns(field: string, v: unknown): DnsConfig | undefined {
  if (v === undefined) return undefined;
  const d = object(field, v);
  const out: DnsConfig = {};
  for (const k in d) {
    const val = d[k];
    if (k === "nameservers") out.nameservers = stringList(`${field}.nameservers`, val, isIpText, "an IPv4 or IPv6 address");
    else if (k === "search") out.search = stringList(`${field}.search`, val);
    else if (k === "options") out.options = stringList(`${field}.options`, val);
    else if (k === "domain") out.domain = string(`${field}.domain`, val);
    else throw unsupported(`${field}.${k}`, val);
  }
  return out;
}

/** The longest path the kernel takes (PATH_MAX, with its terminating NUL). */
const PATH_MAX = 4096;

/**
 * Why `path` cannot be one of the plugin's paths (`subnetFile`, `dataDir`),
 * or undefined when it can: it must be absolute (a plugin runs in whatever
 * directory its runtime is in), shorter than PATH_MAX and hold no NUL
 * (which would cut it short on its way to the kernel).
 */
export function pluginPathProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return "must be an absolute path";
  if (path.includes("\u0000")) return "must not contain a NUL character";
  // Counted in bytes only when it could matter: a character is at most 3 UTF-8 bytes (a surrogate half 2).
  if (path.length * 3 >= PATH_MAX && new TextEncoder().encode(path).length >= PATH_MAX) return `must be shorter than ${PATH_MAX} bytes`;
  return undefined;
}

/**
 * Why `name` cannot be the plugin's `bridge`, or undefined when it can:
 * the kernel's rule for an interface name (1-15 bytes of UTF-8, not "." or
 * "..", no "/", ":", whitespace or control character).
 */
export function bridgeNameProblem(name: string): string | undefined {
  return isValidIfname(name) ? undefined : 'is not a valid interface name (1-15 bytes, not "." or "..", no "/", ":", whitespace or control characters)';
}
