/**
 * A Service as cluster DNS sees it (the service proxy has its own view,
 * services.ts): the
 * fields that decide names and addresses, converted once at the client
 * boundary from the library's V1Service. Nothing outside src/kube/ reads
 * V1Service.
 */
import type { V1Service } from "@kubernetes/client-node";

export type Protocol = "TCP" | "UDP" | "SCTP";
export type ServiceType = "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName";

export interface ServicePort {
  /** The port's name, "" when unnamed (a single-port Service may leave it out). */
  name: string;
  port: number;
  protocol: Protocol;
}

export interface Service {
  namespace: string;
  name: string;
  type: ServiceType;
  /** `spec.clusterIPs` (or `spec.clusterIP`), without "None"; empty when headless or ExternalName. */
  clusterIPs: string[];
  /** `spec.clusterIP` is "None": names resolve to the ready endpoints instead of a virtual IP. */
  headless: boolean;
  /** `spec.externalName` for an ExternalName Service, else null. */
  externalName: string | null;
  ports: ServicePort[];
}

/** Converts an API Service; a field the API server always sets but is absent gets the API's default. */
export function fromV1Service(s: V1Service): Service {
  const spec = s.spec ?? {};
  const type = (spec.type ?? "ClusterIP") as ServiceType;
  const ips = spec.clusterIPs && spec.clusterIPs.length > 0 ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  const headless = type !== "ExternalName" && ips.includes("None");
  return {
    namespace: s.metadata?.namespace ?? "default",
    name: s.metadata?.name ?? "",
    type,
    clusterIPs: type === "ExternalName" ? [] : ips.filter((ip) => ip !== "None" && ip !== ""),
    headless,
    externalName: type === "ExternalName" ? (spec.externalName ?? null) : null,
    ports: (spec.ports ?? []).map((p) => ({ name: p.name ?? "", port: p.port, protocol: (p.protocol ?? "TCP") as Protocol })),
  };
}
