/**
 * The cluster zone as a pure function of the source's snapshot: every
 * record of the Kubernetes DNS specification, schema 1.1.0
 * (kubernetes/dns docs/specification.md), indexed by lower-case name.
 *
 *   dns-version.<zone>                      TXT "1.1.0"                      (2.2)
 *   <svc>.<ns>.svc.<zone>                   A/AAAA per cluster IP            (2.3.1)
 *   _<port>._<proto>.<svc>.<ns>.svc.<zone>  SRV per named port → the service (2.3.2)
 *   <reverse of a cluster IP>               PTR → <svc>.<ns>.svc.<zone>      (2.3.3)
 *   headless <svc>.<ns>.svc.<zone>          A/AAAA per ready endpoint        (2.4.1)
 *   <host>.<svc>.<ns>.svc.<zone>            A/AAAA of that endpoint          (2.4.1)
 *   _<port>._<proto>.<svc>.<ns>.svc.<zone>  SRV per ready endpoint and named port → <host>.<svc>... (2.4.2)
 *   <reverse of an endpoint IP>             PTR → <host>.<svc>.<ns>.svc.<zone> (2.4.3)
 *   ExternalName <svc>.<ns>.svc.<zone>      CNAME <externalName>             (2.5)
 *
 * `<host>` is the endpoint's `hostname`, else its IP with dots (or colons)
 * turned into hyphens, as CoreDNS does (the "system-assigned identifier"
 * of 2.1). An endpoint is ready by its EndpointSlice `ready` condition, which
 * the EndpointSlice controller sets for unready pods too when the Service
 * publishes not-ready addresses. A headless service without a ready
 * endpoint has no records, so its name is NXDOMAIN (2.4.1).
 *
 * Names that exist only because something lies below them (`svc.<zone>`,
 * `<ns>.svc.<zone>` of every existing namespace, `_tcp.<svc>...`) answer
 * NODATA; every other name in the zone is NXDOMAIN.
 *
 * Pod records `<a-b-c-d>.<ns>.pod.<zone>` (the spec's deprecated 2.6, gone
 * from 1.1.0) exist only with `pods: insecure` (any address, in an existing
 * namespace) or `pods: verified` (only a pod of that namespace with that IP),
 * as CoreDNS's `pods` option; they are answered in lookup.ts, not indexed.
 */
import { isIP } from "node:net";
import type { Service } from "../kube/dns-services.ts";
import type { PodsMode } from "./config.ts";
import { dashedIp, reverseName } from "./reverse.ts";
import type { DnsSnapshot } from "./source.ts";

/** The schema version this server implements (the dns-version TXT record). */
export const SCHEMA_VERSION = "1.1.0";

export interface Srv {
  priority: number;
  weight: number;
  port: number;
  /** Lower case, no final dot. */
  target: string;
}

/** The records one name holds. */
export interface NameRecords {
  a: string[];
  aaaa: string[];
  srv: Srv[];
  /** Lower-case targets, no final dot. */
  ptr: string[];
  /** The target of an ExternalName service (no final dot), or null. */
  cname: string | null;
  txt: string[];
}

/** The indexed zone. */
export interface Zone {
  /** The cluster domain, e.g. cluster.local. */
  name: string;
  ttl: number;
  pods: PodsMode;
  /** The SOA serial. */
  serial: number;
  /** Every name with records, in-zone and reverse (lower case, no final dot). */
  records: Map<string, NameRecords>;
  /** In-zone names that exist without records of their own. */
  nonTerminals: Set<string>;
  namespaces: Set<string>;
  /** `pods: verified`: namespace → the IPs of its pods. */
  podIps: Map<string, Set<string>>;
}

export interface ZoneOptions {
  zone: string;
  ttl: number;
  pods: PodsMode;
  /** The SOA serial, e.g. the build's time in seconds. Default 1. */
  serial?: number;
}

/** Builds the zone from a snapshot. Pure: the same snapshot gives the same zone. */
export function buildZone(snapshot: DnsSnapshot, options: ZoneOptions): Zone {
  const z = options.zone;
  const zone: Zone = {
    name: z,
    ttl: options.ttl,
    pods: options.pods,
    serial: options.serial ?? 1,
    records: new Map(),
    nonTerminals: new Set(),
    namespaces: new Set(),
    podIps: new Map(),
  };
  const at = (name: string): NameRecords => {
    let r = zone.records.get(name);
    if (!r) zone.records.set(name, (r = { a: [], aaaa: [], srv: [], ptr: [], cname: null, txt: [] }));
    return r;
  };
  const addIp = (name: string, ip: string) => {
    const r = at(name);
    const list = isIP(ip) === 6 ? r.aaaa : r.a;
    if (!list.includes(ip)) list.push(ip);
  };
  const addPtr = (ip: string, target: string) => {
    const r = at(reverseName(ip));
    if (!r.ptr.includes(target)) r.ptr.push(target);
  };

  at(`dns-version.${z}`).txt.push(SCHEMA_VERSION);
  for (const ns of snapshot.namespaces) zone.namespaces.add(ns.toLowerCase());
  for (const s of snapshot.services) zone.namespaces.add(s.namespace.toLowerCase());

  const slicesByService = new Map<string, DnsSnapshot["endpointSlices"][number][]>();
  for (const slice of snapshot.endpointSlices) {
    if (slice.service === null || slice.addressType === "FQDN") continue;
    const key = `${slice.namespace}/${slice.service}`.toLowerCase();
    let list = slicesByService.get(key);
    if (!list) slicesByService.set(key, (list = []));
    list.push(slice);
  }

  for (const s of snapshot.services) {
    const svcName = `${s.name}.${s.namespace}.svc.${z}`.toLowerCase();
    if (s.type === "ExternalName") {
      if (s.externalName) at(svcName).cname = s.externalName.toLowerCase().replace(/\.$/, "");
      continue;
    }
    if (!s.headless) {
      for (const ip of s.clusterIPs) {
        addIp(svcName, ip);
        addPtr(ip, svcName);
      }
      if (s.clusterIPs.length === 0) continue;
      for (const p of namedPorts(s)) {
        at(srvName(p.name, p.protocol, svcName)).srv.push({ priority: 0, weight: 100, port: p.port, target: svcName });
      }
      continue;
    }
    // Headless: the ready endpoints of every slice of the service.
    for (const slice of slicesByService.get(`${s.namespace}/${s.name}`.toLowerCase()) ?? []) {
      for (const e of slice.endpoints) {
        if (!e.ready) continue;
        for (const ip of e.addresses) {
          const host = (e.hostname ?? dashedIp(ip)).toLowerCase();
          const hostName = `${host}.${svcName}`;
          addIp(svcName, ip);
          addIp(hostName, ip);
          addPtr(ip, hostName);
          for (const p of slice.ports) {
            if (p.name === "" || p.port === null) continue;
            const srv = at(srvName(p.name, p.protocol, svcName)).srv;
            if (!srv.some((x) => x.target === hostName && x.port === p.port)) srv.push({ priority: 0, weight: 100, port: p.port, target: hostName });
          }
        }
      }
    }
  }

  // SRV weights share 100 among a name's records, as CoreDNS does.
  for (const r of zone.records.values()) {
    if (r.srv.length > 1) for (const s of r.srv) s.weight = Math.max(1, Math.floor(100 / r.srv.length));
  }

  // Every name between a record's owner and the zone exists (an empty non-terminal).
  const suffix = `.${z}`;
  const mark = (name: string) => {
    // From the owner's parent upwards; a name already marked has its ancestors marked too.
    for (let n = name.slice(name.indexOf(".") + 1); n.endsWith(suffix); n = n.slice(n.indexOf(".") + 1)) {
      if (zone.records.has(n)) continue;
      if (zone.nonTerminals.has(n)) break;
      zone.nonTerminals.add(n);
    }
  };
  for (const name of zone.records.keys()) if (name.endsWith(suffix)) mark(name);
  zone.nonTerminals.add(`svc.${z}`);
  for (const ns of zone.namespaces) zone.nonTerminals.add(`${ns}.svc.${z}`);
  if (options.pods !== "off") {
    zone.nonTerminals.add(`pod.${z}`);
    for (const ns of zone.namespaces) zone.nonTerminals.add(`${ns}.pod.${z}`);
  }
  if (options.pods === "verified") {
    for (const p of snapshot.pods) {
      const ns = p.namespace.toLowerCase();
      let set = zone.podIps.get(ns);
      if (!set) zone.podIps.set(ns, (set = new Set()));
      for (const ip of p.ips) set.add(ip);
    }
  }
  return zone;
}

function namedPorts(s: Service) {
  return s.ports.filter((p) => p.name !== "");
}

function srvName(port: string, protocol: string, owner: string): string {
  return `_${port}._${protocol}.${owner}`.toLowerCase();
}
