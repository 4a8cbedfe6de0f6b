/**
 * The SERVICE[:PORT] argument of `weft trace POD SERVICE[:PORT]`: a Service
 * by `namespace/name`, by `name` (namespace "default") or by its ClusterIP,
 * and optionally one of its ports by number or by name.
 */
import { WeftError } from "../../lib/errors.ts";
import { tryParseIp } from "../../lib/ipv4.ts";

/** Which Service and port to trace. */
export type ServiceRef =
  | { kind: "name"; namespace: string; name: string; port: number | string | null }
  | { kind: "ip"; ip: string; port: number | string | null };

/** Error code: a SERVICE[:PORT] argument that names no Service. */
export const SERVICE_REF_INVALID = "SERVICE_REF_INVALID";

/** A DNS-1123 label: namespaces and Service names (Service names also start with a letter; the API server enforces that). */
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** An IANA service name, as Service port names are. */
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;

const HINT = "give SERVICE[:PORT] as NAMESPACE/NAME, NAME (namespace default) or a ClusterIP, and PORT as a number or a port name, e.g. default/web:80";

/** Parses `text`; throws SERVICE_REF_INVALID naming what is wrong. */
export function parseServiceRef(text: string): ServiceRef {
  const colon = text.lastIndexOf(":");
  const base = colon < 0 ? text : text.slice(0, colon);
  const port = colon < 0 ? null : parsePort(text, text.slice(colon + 1));
  if (tryParseIp(base) !== undefined) return { kind: "ip", ip: base, port };
  const parts = base.split("/");
  if (parts.length > 2 || parts.some((p) => !LABEL.test(p))) {
    throw new WeftError(SERVICE_REF_INVALID, `trace: "${text}" is not a Service: "${base}" is neither NAMESPACE/NAME, NAME nor an IPv4 address`, { hint: HINT });
  }
  return parts.length === 2 ? { kind: "name", namespace: parts[0]!, name: parts[1]!, port } : { kind: "name", namespace: "default", name: parts[0]!, port };
}

function parsePort(text: string, port: string): number | string {
  if (/^\d+$/.test(port)) {
    const n = Number(port);
    if (n >= 1 && n <= 65535) return n;
  } else if (PORT_NAME.test(port)) return port;
  throw new WeftError(SERVICE_REF_INVALID, `trace: "${text}" has port "${port}", which is neither a number from 1 to 65535 nor a port name`, { hint: HINT });
}

/**
 * True when trace's second argument must be a Service: it has a port, a
 * namespace or is an IPv4 address. A bare name may be a pod or a Service;
 * the caller decides by looking for a pod of that name first.
 */
export function namesService(text: string): boolean {
  return text.includes(":") || text.includes("/") || tryParseIp(text) !== undefined;
}

/** The reference as the user would write it, for messages. */
export function formatServiceRef(ref: ServiceRef): string {
  const base = ref.kind === "ip" ? ref.ip : `${ref.namespace}/${ref.name}`;
  return ref.port === null ? base : `${base}:${ref.port}`;
}
