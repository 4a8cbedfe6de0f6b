/**
 * The cluster bench/dns.ts measures: 1,000 ClusterIP Services in 10
 * namespaces (svc-I.ns-(I mod 10), 10.97.X.Y, ports http 80 and grpc 9090),
 * as API objects to create in the lab's API server, which both servers watch, and as
 * the snapshot of weft dns's in-memory source (bench/dns-wire.ts), plus the
 * two query mixes.
 */
import type { Service } from "../src/kube/dns-services.ts";
import type { DnsSnapshot } from "../src/dns/source.ts";

export const SERVICES = 1000;
const NAMESPACES = 10;
/** Names the forwarded mix asks (host-I.example.test), served by the upstream. */
export const UPSTREAM_NAMES = 1000;

function ipOf(i: number): string {
  return `10.97.${i >> 8}.${i & 255}`;
}

function serviceOf(i: number): Service {
  return {
    namespace: `ns-${i % NAMESPACES}`,
    name: `svc-${i}`,
    type: "ClusterIP",
    clusterIPs: [ipOf(i)],
    headless: false,
    externalName: null,
    ports: [{ name: "http", port: 80, protocol: "TCP" }, { name: "grpc", port: 9090, protocol: "TCP" }],
  };
}

export function benchSnapshot(): DnsSnapshot {
  return {
    services: Array.from({ length: SERVICES }, (_, i) => serviceOf(i)),
    endpointSlices: [],
    namespaces: Array.from({ length: NAMESPACES }, (_, i) => `ns-${i}`),
    pods: [],
  };
}

/**
 * The same cluster as the API objects to create in the lab: its namespaces
 * and Services (each with its cluster IP given, inside the lab's service
 * CIDR 10.96.0.0/12, so the PTR queries of the mix name them), no
 * EndpointSlices (ClusterIP Services need none for DNS).
 */
export function benchApiObjects(): { namespaces: string[]; services: { namespace: string; body: object }[] } {
  return {
    namespaces: Array.from({ length: NAMESPACES }, (_, i) => `ns-${i}`),
    services: Array.from({ length: SERVICES }, (_, i) => {
      const s = serviceOf(i);
      return {
        namespace: s.namespace,
        body: {
          metadata: { name: s.name, namespace: s.namespace },
          spec: { type: "ClusterIP", clusterIP: s.clusterIPs[0], ports: s.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })) },
        },
      };
    }),
  };
}

/** dnsmasq's hosts file for the upstream: host-I.example.test → 192.0.2-3.x. */
export function upstreamHosts(): string {
  return Array.from({ length: UPSTREAM_NAMES }, (_, i) => `198.18.${i >> 8}.${i & 255} host-${i}.example.test`).join("\n") + "\n";
}

/** A deterministic shuffle (the same files every run). */
function shuffled<T>(xs: T[]): T[] {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** dnsperf's input for the cluster mix: per service 8 A, 5 SRV, 3 PTR and 4 NXDOMAIN (40/25/15/20%). */
export function clusterMix(): string {
  const lines: string[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const s = serviceOf(i);
    const name = `${s.name}.${s.namespace}.svc.cluster.local`;
    const ptr = `${s.clusterIPs[0]!.split(".").reverse().join(".")}.in-addr.arpa`;
    for (let k = 0; k < 8; k++) lines.push(`${name} A`);
    for (let k = 0; k < 5; k++) lines.push(`_${k % 2 === 0 ? "http" : "grpc"}._tcp.${name} SRV`);
    for (let k = 0; k < 3; k++) lines.push(`${ptr} PTR`);
    lines.push(`nope-${i}.${s.namespace}.svc.cluster.local A`, `nope-${i}.${s.namespace}.svc.cluster.local A`);
    lines.push(`svc-${i}.nowhere.svc.cluster.local A`, `x.svc-${i}.${s.namespace}.svc.cluster.local A`);
  }
  return shuffled(lines).join("\n") + "\n";
}

/** dnsperf's input for the forwarded mix: A of every upstream name. */
export function forwardedMix(): string {
  return shuffled(Array.from({ length: UPSTREAM_NAMES }, (_, i) => `host-${i}.example.test A`)).join("\n") + "\n";
}
