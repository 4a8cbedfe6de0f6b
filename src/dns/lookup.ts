/**
 * Answers a question from the cluster zone (records.ts): the records, or
 * NODATA/NXDOMAIN with the zone's SOA in AUTHORITY (RFC 2308), the SRV
 * targets' addresses in ADDITIONAL, ExternalName CNAMEs followed inside
 * the zone (a target outside it is left to the caller, which forwards it).
 * Owner names echo the question's case; names are matched in lower case.
 * Pure: a zone and a question give one answer.
 */
import type { Answer, SoaAnswer } from "dns-packet";
import { isIP } from "node:net";
import type { NameRecords, Zone } from "./records.ts";
import { ipFromDashed } from "./reverse.ts";

export interface ZoneAnswer {
  rcode: "NOERROR" | "NXDOMAIN";
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  /** The CNAME target outside the zone whose `qtype` records the caller should append, or null. */
  chase: string | null;
}

/** True when `name` (lower case, no final dot) is the zone or below it. */
export function inZone(zone: Zone, name: string): boolean {
  return name === zone.name || name.endsWith(`.${zone.name}`);
}

/**
 * The answer for `asked` (the question's name as sent, no final dot) and
 * `qtype`, or null when the zone does not own the name: a name outside the
 * zone, or a reverse name of no cluster address (both are forwarded).
 */
export function lookupZone(zone: Zone, asked: string, qtype: string): ZoneAnswer | null {
  const name = asked.toLowerCase();
  if (!inZone(zone, name)) {
    const r = zone.records.get(name);
    if (!r || r.ptr.length === 0) return null;
    return fromRecords(zone, asked, r, qtype);
  }
  if (name === zone.name) {
    return qtype === "SOA" || qtype === "ANY" ? answer([soa(zone)]) : noData(zone);
  }
  const r = zone.records.get(name);
  if (r) return fromRecords(zone, asked, r, qtype);
  const pod = podAnswer(zone, name, asked, qtype);
  if (pod) return pod;
  if (zone.nonTerminals.has(name)) return noData(zone);
  return { rcode: "NXDOMAIN", answers: [], authorities: [soa(zone)], additionals: [], chase: null };
}

function fromRecords(zone: Zone, owner: string, r: NameRecords, qtype: string, depth = 0): ZoneAnswer {
  const ttl = zone.ttl;
  if (r.cname !== null && qtype !== "CNAME") {
    const cname: Answer = { name: owner, type: "CNAME", class: "IN", ttl, data: r.cname };
    const inner = inZone(zone, r.cname) && depth < 8 ? zone.records.get(r.cname) : undefined;
    if (inner) {
      const next = fromRecords(zone, r.cname, inner, qtype, depth + 1);
      return { ...next, answers: [cname, ...next.answers] };
    }
    if (inZone(zone, r.cname)) return { rcode: "NOERROR", answers: [cname], authorities: [soa(zone)], additionals: [], chase: null };
    return { rcode: "NOERROR", answers: [cname], authorities: [], additionals: [], chase: r.cname };
  }
  const out: Answer[] = [];
  const additionals: Answer[] = [];
  const any = qtype === "ANY";
  if (qtype === "A" || any) for (const ip of r.a) out.push({ name: owner, type: "A", class: "IN", ttl, data: ip });
  if (qtype === "AAAA" || any) for (const ip of r.aaaa) out.push({ name: owner, type: "AAAA", class: "IN", ttl, data: ip });
  if (qtype === "CNAME" || any) if (r.cname !== null) out.push({ name: owner, type: "CNAME", class: "IN", ttl, data: r.cname });
  if (qtype === "TXT" || any) for (const t of r.txt) out.push({ name: owner, type: "TXT", class: "IN", ttl, data: t });
  if (qtype === "PTR" || any) for (const t of r.ptr) out.push({ name: owner, type: "PTR", class: "IN", ttl, data: t });
  if (qtype === "SRV" || any) {
    const seen = new Set<string>();
    for (const s of r.srv) {
      out.push({ name: owner, type: "SRV", class: "IN", ttl, data: { priority: s.priority, weight: s.weight, port: s.port, target: s.target } });
      if (seen.has(s.target)) continue;
      seen.add(s.target);
      const t = zone.records.get(s.target);
      if (!t) continue;
      for (const ip of t.a) additionals.push({ name: s.target, type: "A", class: "IN", ttl, data: ip });
      for (const ip of t.aaaa) additionals.push({ name: s.target, type: "AAAA", class: "IN", ttl, data: ip });
    }
  }
  if (out.length === 0) return noData(zone);
  return { rcode: "NOERROR", answers: out, authorities: [], additionals, chase: null };
}

/** `<a-b-c-d>.<ns>.pod.<zone>` when pod records are on (see records.ts). */
function podAnswer(zone: Zone, name: string, asked: string, qtype: string): ZoneAnswer | null {
  if (zone.pods === "off") return null;
  const labels = name.slice(0, -(zone.name.length + 1)).split(".");
  if (labels.length !== 3 || labels[2] !== "pod") return null;
  const [dashed, ns] = labels as [string, string, string];
  const ip = ipFromDashed(dashed);
  if (ip === null || !zone.namespaces.has(ns)) return null;
  if (zone.pods === "verified" && !zone.podIps.get(ns)?.has(ip)) return null;
  const type = isIP(ip) === 4 ? "A" : "AAAA";
  if (qtype !== type && qtype !== "ANY") return noData(zone);
  return answer([{ name: asked, type, class: "IN", ttl: zone.ttl, data: ip }]);
}

function answer(answers: Answer[]): ZoneAnswer {
  return { rcode: "NOERROR", answers, authorities: [], additionals: [], chase: null };
}

function noData(zone: Zone): ZoneAnswer {
  return { rcode: "NOERROR", answers: [], authorities: [soa(zone)], additionals: [], chase: null };
}

/** The zone's SOA; its minimum (the negative-caching TTL, RFC 2308) is the records' TTL. */
export function soa(zone: Zone): SoaAnswer {
  return {
    name: zone.name,
    type: "SOA",
    class: "IN",
    ttl: zone.ttl,
    data: { mname: `ns.dns.${zone.name}`, rname: `hostmaster.${zone.name}`, serial: zone.serial, refresh: 7200, retry: 1800, expire: 86400, minimum: zone.ttl },
  };
}
