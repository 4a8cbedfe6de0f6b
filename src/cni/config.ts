/**
 * The weft plugin's network configuration, as a runtime passes it on stdin
 * (one entry of a conflist with `name` and `cniVersion` injected):
 *
 *     {"cniVersion":"1.1.0","name":"weft","type":"weft",
 *      "bridge":"weft0",                      default weft0
 *      "subnetFile":"/run/weft/subnet.env",   default /run/weft/subnet.env
 *      "dataDir":"/var/lib/weft/ipam",        default /var/lib/weft/ipam
 *      "mtu":1450,                            default: WEFT_MTU from the subnet file
 *      "hairpinMode":true,                    default true
 *      "dns":{"nameservers":["10.96.0.10"],"search":["svc.cluster.local"]}}
 *
 * Unknown fields are error 2 naming the key and value; invalid values are
 * error 7 naming the field and value.
 */
import { CniError, ERR_DECODE, ERR_INCOMPATIBLE_VERSION, ERR_INVALID_CONFIG, ERR_UNSUPPORTED_FIELD } from "./errors.ts";
import { isCniName, isValidIfname } from "./env.ts";
import { isSupported, SUPPORTED_VERSIONS, type CniVersion } from "./version.ts";
import { tryParseIp } from "../lib/ipv4.ts";

export interface DnsConfig {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface PluginConfig {
  cniVersion: CniVersion;
  name: string;
  bridge: string;
  subnetFile: string;
  dataDir: string;
  mtu: number | undefined;
  hairpinMode: boolean;
  dns: DnsConfig | undefined;
  /** The previous plugin's result (ADD in a chain, CHECK, DEL), untyped. */
  prevResult: Record<string, unknown> | undefined;
  /** GC's `cni.dev/valid-attachments` (or `cni.dev/attachments`, the name the 1.1.0 spec first gave it, which libcni still sends too). */
  validAttachments: Array<{ containerID: string; ifname: string }> | undefined;
}

/** Keys the spec and its conventions define, which any plugin must accept. */
const STANDARD_KEYS = new Set(["cniVersion", "cniVersions", "name", "type", "args", "runtimeConfig", "capabilities", "prevResult", "cni.dev/valid-attachments", "cni.dev/attachments", "disableCheck", "disableGC"]);
const WEFT_KEYS = new Set(["bridge", "subnetFile", "dataDir", "mtu", "hairpinMode", "dns"]);

/** Decodes stdin; error 6 when it is not a JSON object. */
export function decodeStdin(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CniError(ERR_DECODE, `network configuration on stdin is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new CniError(ERR_DECODE, "network configuration on stdin must be a JSON object");
  return value as Record<string, unknown>;
}

/** Reads cniVersion alone (for error objects and VERSION); undefined when absent or unsupported. */
export function requestedVersion(raw: Record<string, unknown>): CniVersion | undefined {
  return isSupported(raw.cniVersion) ? raw.cniVersion : undefined;
}

function invalid(field: string, value: unknown, why: string): CniError {
  return new CniError(ERR_INVALID_CONFIG, `invalid network configuration: ${field}=${JSON.stringify(value)} ${why}`);
}

function stringList(field: string, v: unknown, check?: (s: string) => boolean): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string" && (!check || check(s)))) throw invalid(field, v, "must be a list of strings" + (check ? " of valid values" : ""));
  return v as string[];
}

function absolutePath(field: string, v: unknown, fallback: string): string {
  if (v === undefined) return fallback;
  if (typeof v !== "string" || !v.startsWith("/")) throw invalid(field, v, "must be an absolute path");
  return v;
}

function parseDns(v: unknown): DnsConfig | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalid("dns", v, "must be an object");
  const d = v as Record<string, unknown>;
  const out: DnsConfig = {};
  for (const [k, val] of Object.entries(d)) {
    if (k === "nameservers") out.nameservers = stringList("dns.nameservers", val, (s) => tryParseIp(s) !== undefined || s.includes(":"));
    else if (k === "search") out.search = stringList("dns.search", val);
    else if (k === "options") out.options = stringList("dns.options", val);
    else if (k === "domain") {
      if (typeof val !== "string") throw invalid("dns.domain", val, "must be a string");
      out.domain = val;
    } else throw new CniError(ERR_UNSUPPORTED_FIELD, `unsupported field in network configuration: dns.${k}=${JSON.stringify(val)}`);
  }
  return out;
}

function parseAttachments(raw: Record<string, unknown>): PluginConfig["validAttachments"] {
  const field = raw["cni.dev/valid-attachments"] !== undefined ? "cni.dev/valid-attachments" : "cni.dev/attachments";
  const v = raw[field];
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw invalid(field, v, "must be a list of {containerID, ifname}");
  return v.map((a) => {
    if (typeof a !== "object" || a === null || typeof a.containerID !== "string" || typeof a.ifname !== "string") {
      throw invalid(field, a, "entries must be {\"containerID\": string, \"ifname\": string}");
    }
    return { containerID: a.containerID, ifname: a.ifname };
  });
}

/** Validates a decoded configuration. */
export function parseConfig(raw: Record<string, unknown>): PluginConfig {
  const v = raw.cniVersion;
  if (typeof v !== "string" || v === "") throw new CniError(ERR_INCOMPATIBLE_VERSION, "network configuration has no cniVersion");
  if (!isSupported(v)) throw new CniError(ERR_INCOMPATIBLE_VERSION, `CNI version ${v} is not supported; weft supports ${SUPPORTED_VERSIONS.join(", ")}`);
  for (const [k, val] of Object.entries(raw)) {
    if (STANDARD_KEYS.has(k) || WEFT_KEYS.has(k)) continue;
    const why = k === "ipam" ? " (weft allocates pod addresses itself from the node subnet; remove the ipam section)" : "";
    throw new CniError(ERR_UNSUPPORTED_FIELD, `unsupported field in network configuration: ${k}=${JSON.stringify(val)}${why}`);
  }
  if (typeof raw.name !== "string" || !isCniName(raw.name)) throw invalid("name", raw.name, "must start with a letter or digit and contain only letters, digits, _, . and -");
  const bridge = raw.bridge ?? "weft0";
  if (typeof bridge !== "string" || !isValidIfname(bridge)) throw invalid("bridge", bridge, "is not a valid interface name");
  const mtu = raw.mtu;
  if (mtu !== undefined && (typeof mtu !== "number" || !Number.isInteger(mtu) || mtu < 576 || mtu > 65535)) throw invalid("mtu", mtu, "must be an integer from 576 to 65535");
  const hairpin = raw.hairpinMode ?? true;
  if (typeof hairpin !== "boolean") throw invalid("hairpinMode", hairpin, "must be true or false");
  const prev = raw.prevResult;
  if (prev !== undefined && (typeof prev !== "object" || prev === null || Array.isArray(prev))) throw invalid("prevResult", prev, "must be an object");
  return {
    cniVersion: v,
    name: raw.name,
    bridge,
    subnetFile: absolutePath("subnetFile", raw.subnetFile, "/run/weft/subnet.env"),
    dataDir: absolutePath("dataDir", raw.dataDir, "/var/lib/weft/ipam"),
    mtu: mtu as number | undefined,
    hairpinMode: hairpin,
    dns: parseDns(raw.dns),
    prevResult: prev as Record<string, unknown> | undefined,
    validAttachments: parseAttachments(raw),
  };
}
