/**
 * IPv6 address text, checked for form only. weft's own addresses are IPv4,
 * but a result it extends (a previous plugin's prevResult) or the DNS
 * servers a runtime passes may be IPv6. A loop, not a RegExp: see
 * src/lib/ipv4.ts.
 */
import { tryParseIp } from "./ipv4.ts";

const isHex = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

/**
 * True when `text` is an IPv6 address in RFC 4291 text form: eight groups
 * of 1-4 hex digits separated by ":", one "::" standing for one or more
 * zero groups, the last two groups optionally an IPv4 dotted quad. No zone.
 */
export function isIpv6(text: string): boolean {
  const gap = text.indexOf("::");
  if (gap >= 0 && text.indexOf("::", gap + 1) >= 0) return false;
  let groups = 0;
  const parts = gap >= 0 ? [text.slice(0, gap), text.slice(gap + 2)] : [text];
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p]!;
    if (part === "") continue;
    const words = part.split(":");
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      // A dotted quad may end the address: it counts as two groups.
      if (p === parts.length - 1 && i === words.length - 1 && w.includes(".")) {
        if (tryParseIp(w) === undefined) return false;
        groups += 2;
        continue;
      }
      if (w.length < 1 || w.length > 4) return false;
      for (let j = 0; j < w.length; j++) if (!isHex(w.charCodeAt(j))) return false;
      groups++;
    }
  }
  return gap >= 0 ? groups <= 7 : groups === 8;
}
