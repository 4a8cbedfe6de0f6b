/**
 * Reverse names for PTR records: `d.c.b.a.in-addr.arpa` for IPv4 and the
 * 32 nibbles of the full IPv6 address, reversed, under `ip6.arpa`
 * (the specification's 2.3.3 and 2.4.3).
 */
import { isIP } from "node:net";

/** The reverse name (lower case, no final dot) of an IPv4 or IPv6 address. */
export function reverseName(ip: string): string {
  if (isIP(ip) === 4) return `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
  return `${expandIpv6(ip).split("").reverse().join(".")}.ip6.arpa`;
}

/** The 32 hex digits of an IPv6 address, lower case, without colons. */
function expandIpv6(ip: string): string {
  let text = ip.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, v4.index) + ((a << 8) | b).toString(16) + ":" + ((c << 8) | d).toString(16);
  }
  const [head, tail] = text.includes("::") ? text.split("::") as [string, string] : [text, undefined];
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.map((g) => g.padStart(4, "0")).join("");
}

/** Canonical IPv6 text (as node formats it) of a dashed pod name's address, e.g. "2001-db8--1" → "2001:db8::1"; null if not an address. */
export function ipFromDashed(label: string): string | null {
  const v4 = label.replace(/-/g, ".");
  if (isIP(v4) === 4 && /^\d+\.\d+\.\d+\.\d+$/.test(v4)) return v4;
  const v6 = label.replace(/-/g, ":");
  if (isIP(v6) === 6) return v6;
  return null;
}

/** An IP with dots or colons turned into hyphens: the system-assigned endpoint hostname (as CoreDNS). */
export function dashedIp(ip: string): string {
  return ip.replace(/[.:]/g, "-");
}
