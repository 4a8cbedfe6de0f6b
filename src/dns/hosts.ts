/**
 * Static names in /etc/hosts form ("IP NAME [NAME...]", `#` comments), as
 * CoreDNS's hosts plugin and seed 003's example use them: each name
 * answers A/AAAA with its addresses and each address a PTR to its first
 * name. Names are matched case-insensitively.
 */
import { isIP } from "node:net";
import { reverseName } from "./reverse.ts";

export interface HostsTable {
  /** Lower-case name (no final dot) → addresses. */
  byName: Map<string, { v4: string[]; v6: string[] }>;
  /** Reverse name (e.g. 4.3.2.1.in-addr.arpa) → the first name given for that address. */
  byReverse: Map<string, string>;
}

/** Parses hosts text; a line with a bad address or no name throws an Error naming the line. */
export function parseHosts(text: string): HostsTable {
  const table: HostsTable = { byName: new Map(), byReverse: new Map() };
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/#.*/, "").trim();
    if (line === "") continue;
    const [ip, ...names] = line.split(/\s+/);
    const family = isIP(ip!);
    if (family === 0) throw new Error(`line ${i + 1} "${lines[i]!.trim()}": "${ip}" is not an IP address`);
    if (names.length === 0) throw new Error(`line ${i + 1} "${lines[i]!.trim()}": no name after the address`);
    for (const n of names) {
      const name = n.toLowerCase().replace(/\.$/, "");
      let entry = table.byName.get(name);
      if (!entry) table.byName.set(name, (entry = { v4: [], v6: [] }));
      const list = family === 4 ? entry.v4 : entry.v6;
      if (!list.includes(ip!)) list.push(ip!);
    }
    const rev = reverseName(ip!);
    if (!table.byReverse.has(rev)) table.byReverse.set(rev, names[0]!.toLowerCase().replace(/\.$/, ""));
  }
  return table;
}
