/**
 * IPv4 address ranges for peer sets: an ipBlock is its CIDR minus its
 * excepts, and a rule's peers are the union of its ipBlocks and the /32s of
 * the pods its selectors pick. nft interval sets refuse overlapping
 * elements, so the union is written as disjoint, non-adjacent ranges.
 */
import { formatIp, lastOf, parsePrefix, tryParseIp } from "../lib/ipv4.ts";

/** An inclusive range of addresses, as unsigned 32-bit numbers. */
export type Range = readonly [number, number];

/** The addresses of `cidr` minus those of `except` (IPv4 only; an IPv6 block is empty here). Throws INVALID_CIDR for malformed text. */
export function ipBlockRanges(cidr: string, except: readonly string[]): Range[] {
  if (cidr.includes(":")) return [];
  const p = parsePrefix(cidr, "ipBlock.cidr", false);
  let out: Range[] = [[p.base, lastOf(p)]];
  for (const e of except) {
    if (e.includes(":")) continue;
    const x = parsePrefix(e, "ipBlock.except", false);
    out = subtract(out, [x.base, lastOf(x)]);
  }
  return out;
}

function subtract(ranges: readonly Range[], [lo, hi]: Range): Range[] {
  const out: Range[] = [];
  for (const [a, b] of ranges) {
    if (hi < a || lo > b) {
      out.push([a, b]);
      continue;
    }
    if (a < lo) out.push([a, lo - 1]);
    if (b > hi) out.push([hi + 1, b]);
  }
  return out;
}

/** The union of `ranges`, sorted, disjoint and with adjacent ranges merged. */
export function unionRanges(ranges: Iterable<Range>): Range[] {
  const sorted = [...ranges].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = out.at(-1);
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** A single address as a range; undefined for text that is not IPv4. */
export function ipRange(ip: string): Range | undefined {
  const n = tryParseIp(ip);
  return n === undefined ? undefined : [n, n];
}

/** True when `ip` (a number) lies in one of `ranges`. */
export function inRanges(ranges: readonly Range[], ip: number): boolean {
  return ranges.some(([a, b]) => ip >= a && ip <= b);
}

/** A range as an nft interval-set element: `10.0.0.1` or `10.0.0.0-10.0.0.255`. */
export function rangeText([a, b]: Range): string {
  return a === b ? formatIp(a) : `${formatIp(a)}-${formatIp(b)}`;
}
