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
 * error 7 naming the field and value. `weft install-cni` checks what it
 * writes with the same rules: bridgeNameProblem and pluginPathProblem
 * (fields.ts), or parseConfig on the whole entry.
 */
import { CniError, ERR_DECODE, ERR_INCOMPATIBLE_VERSION } from "./errors.ts";
import { isCniName } from "./env.ts";
import { bridgeNameProblem, integer, invalid, parseDns, pluginPathProblem, unsupported, type DnsConfig } from "./fields.ts";
import { parsePrevResult } from "./prev-result.ts";
import type { Result } from "./result.ts";
import { isSupported, SUPPORTED_VERSIONS, type CniVersion } from "./version.ts";

export { bridgeNameProblem, pluginPathProblem, type DnsConfig } from "./fields.ts";

export interface PluginConfig {
  cniVersion: CniVersion;
  name: string;
  bridge: string;
  subnetFile: string;
  dataDir: string;
  mtu: number | undefined;
  hairpinMode: boolean;
  dns: DnsConfig | undefined;
  /** The previous plugins' result (ADD in a chain, CHECK, DEL), checked and in the common shape. */
  prevResult: Result | undefined;
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
  } catch {
    // The parser's own message is JavaScript's words: say what was read instead.
    const start = text.length > 60 ? `${text.slice(0, 60)}…` : text;
    throw new CniError(ERR_DECODE, text.trim() === "" ? "network configuration on stdin is empty; the runtime must pass the network's JSON configuration" : `network configuration on stdin is not valid JSON: it begins ${JSON.stringify(start)} (${text.length} characters)`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new CniError(ERR_DECODE, "network configuration on stdin must be a JSON object");
  return value as Record<string, unknown>;
}

/** Reads cniVersion alone (for error objects and VERSION); undefined when absent or unsupported. */
export function requestedVersion(raw: Record<string, unknown>): CniVersion | undefined {
  return isSupported(raw.cniVersion) ? raw.cniVersion : undefined;
}

function path(field: string, v: unknown, fallback: string): string {
  if (v === undefined) return fallback;
  if (typeof v !== "string") throw invalid(field, v, "must be an absolute path");
  const problem = pluginPathProblem(v);
  if (problem) throw invalid(field, v, problem);
  return v;
}

function parseAttachments(raw: Record<string, unknown>): PluginConfig["validAttachments"] {
  const field = raw["cni.dev/valid-attachments"] !== undefined ? "cni.dev/valid-attachments" : "cni.dev/attachments";
  const v = raw[field];
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw invalid(field, v, "must be a list of {containerID, ifname}");
  return v.map((a: unknown, i) => {
    const o = a as { containerID?: unknown; ifname?: unknown } | null;
    if (typeof o !== "object" || o === null || Array.isArray(o) || typeof o.containerID !== "string" || typeof o.ifname !== "string") {
      throw invalid(`${field}[${i}]`, a, 'must be {"containerID": string, "ifname": string}');
    }
    return { containerID: o.containerID, ifname: o.ifname };
  });
}

/** Validates a decoded configuration, prevResult and dns included, before any verb changes anything. */
export function parseConfig(raw: Record<string, unknown>): PluginConfig {
  const v = raw.cniVersion;
  if (typeof v !== "string" || v === "") throw new CniError(ERR_INCOMPATIBLE_VERSION, "network configuration has no cniVersion");
  if (!isSupported(v)) throw new CniError(ERR_INCOMPATIBLE_VERSION, `CNI version ${v} is not supported; weft supports ${SUPPORTED_VERSIONS.join(", ")}`);
  for (const k in raw) {
    if (STANDARD_KEYS.has(k) || WEFT_KEYS.has(k)) continue;
    throw unsupported(k, raw[k], k === "ipam" ? " (weft allocates pod addresses itself from the node subnet; remove the ipam section)" : "");
  }
  if (typeof raw.name !== "string" || !isCniName(raw.name)) throw invalid("name", raw.name, "must start with a letter or digit and contain only letters, digits, _, . and -");
  const bridge = raw.bridge ?? "weft0";
  if (typeof bridge !== "string") throw invalid("bridge", bridge, "must be a string");
  const bridgeProblem = bridgeNameProblem(bridge);
  if (bridgeProblem) throw invalid("bridge", bridge, bridgeProblem);
  const mtu = raw.mtu === undefined ? undefined : integer("mtu", raw.mtu, 576, 65535);
  const hairpin = raw.hairpinMode ?? true;
  if (typeof hairpin !== "boolean") throw invalid("hairpinMode", hairpin, "must be true or false");
  return {
    cniVersion: v,
    name: raw.name,
    bridge,
    subnetFile: path("subnetFile", raw.subnetFile, "/run/weft/subnet.env"),
    dataDir: path("dataDir", raw.dataDir, "/var/lib/weft/ipam"),
    mtu,
    hairpinMode: hairpin,
    dns: parseDns("dns", raw.dns),
    prevResult: parsePrevResult(raw.prevResult),
    validAttachments: parseAttachments(raw),
  };
}
