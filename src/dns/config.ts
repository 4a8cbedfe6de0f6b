/**
 * `weft dns`'s configuration: a YAML or JSON file (`--config FILE`), usually
 * the `config.yaml` key of the `weft-dns` ConfigMap mounted into the pod.
 * A whole ConfigMap manifest is accepted too (its `data["config.yaml"]` is
 * read). Every option, with its default:
 *
 *     zone: cluster.local      # the cluster domain the Kubernetes records live under
 *     ttl: 5                   # seconds, for cluster records and the zone SOA's negative TTL (as CoreDNS)
 *     pods: off                # off | insecure | verified: a-b-c-d.<ns>.pod.<zone> records (see records.ts)
 *     upstreams: []            # IP or IP:PORT, tried in order; default: the nameservers of /etc/resolv.conf
 *     cacheSize: 10000         # forwarded answers kept (positive and negative); 0 turns the cache off
 *     cacheMaxTtl: 3600        # seconds; an upstream TTL above this is cut to it
 *     hosts: ""                # static entries in /etc/hosts form, answered before forwarding
 *     listen: 0.0.0.0          # address for DNS (UDP and TCP)
 *     port: 53                 # DNS port (0: any free port, for tests)
 *     httpPort: 8080           # /health, /ready and /metrics, on the same address (0: any free port)
 *
 * An unknown key, a wrong type or a value out of range is an error naming
 * the key and the value, before anything listens.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { parse as parseYaml } from "yaml";
import { WeftError } from "../lib/errors.ts";
import { parseHosts, type HostsTable } from "./hosts.ts";

export const DNS_CONFIG_INVALID = "DNS_CONFIG_INVALID";

export type PodsMode = "off" | "insecure" | "verified";

export interface Upstream {
  host: string;
  port: number;
}

/** The validated configuration the server runs with. */
export interface DnsConfig {
  /** The cluster domain, lower case, without the final dot. Default cluster.local. */
  zone: string;
  /** TTL of cluster records in seconds. Default 5. */
  ttl: number;
  /** Pod records: off (default), insecure (any a-b-c-d in an existing namespace) or verified (only a pod's own IP). */
  pods: PodsMode;
  /** Where other names are forwarded, in order. Default: /etc/resolv.conf's nameservers (port 53). */
  upstreams: Upstream[];
  /** Forwarded answers kept at most. Default 10000; 0 disables the cache. */
  cacheSize: number;
  /** Longest time a forwarded answer is kept, in seconds. Default 3600. */
  cacheMaxTtl: number;
  /** Static names. Default none. */
  hosts: HostsTable;
  /** DNS listen address. Default 0.0.0.0. */
  listen: string;
  /** DNS port, UDP and TCP. Default 53. */
  port: number;
  /** HTTP port for /health, /ready and /metrics. Default 8080. */
  httpPort: number;
}

/** The file's keys and how each is checked. */
const KEYS = ["zone", "ttl", "pods", "upstreams", "cacheSize", "cacheMaxTtl", "hosts", "listen", "port", "httpPort"] as const;
type Key = (typeof KEYS)[number];

/** Reads and validates a config file; `resolvConf` is where default upstreams come from. */
export function readDnsConfig(path: string, resolvConf = "/etc/resolv.conf"): DnsConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new WeftError(DNS_CONFIG_INVALID, `cannot read DNS config file ${path}: ${why}`, { hint: "give a YAML or JSON file of options (see weft dns --help)" });
  }
  return parseDnsConfig(text, path, resolvConf);
}

/** Parses and validates config text (YAML or JSON); `where` names it in errors. */
export function parseDnsConfig(text: string, where: string, resolvConf = "/etc/resolv.conf"): DnsConfig {
  let raw: unknown;
  try {
    raw = text.trim() === "" ? {} : parseYaml(text);
  } catch (err) {
    throw new WeftError(DNS_CONFIG_INVALID, `${where} is not valid YAML or JSON: ${(err as Error).message.split("\n")[0]}`);
  }
  if (isObject(raw) && raw.kind === "ConfigMap") {
    const data = isObject(raw.data) ? raw.data["config.yaml"] : undefined;
    if (typeof data !== "string") throw new WeftError(DNS_CONFIG_INVALID, `${where}: the ConfigMap has no data key "config.yaml"`, { hint: "put the options under data: config.yaml: |" });
    return parseDnsConfig(data, `${where} (config.yaml)`, resolvConf);
  }
  if (raw === null || raw === undefined) raw = {};
  if (!isObject(raw)) throw new WeftError(DNS_CONFIG_INVALID, `${where} must hold a mapping of options, not ${JSON.stringify(raw)}`);
  return validateDnsConfig(raw, where, resolvConf);
}

/** Checks every key of `raw` and fills defaults. */
function validateDnsConfig(raw: Record<string, unknown>, where: string, resolvConf = "/etc/resolv.conf"): DnsConfig {
  for (const key of Object.keys(raw)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new WeftError(DNS_CONFIG_INVALID, `${where}: unknown key "${key}"`, { hint: `known keys: ${KEYS.join(", ")}` });
    }
  }
  const bad = (key: Key, expected: string) => new WeftError(DNS_CONFIG_INVALID, `${where}: "${key}" is ${JSON.stringify(raw[key])}: expected ${expected}`);
  const int = (key: Key, def: number, min: number, max: number): number => {
    const v = raw[key];
    if (v === undefined) return def;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw bad(key, `an integer from ${min} to ${max}`);
    return v;
  };
  const str = (key: Key, def: string): string => {
    const v = raw[key];
    if (v === undefined) return def;
    if (typeof v !== "string") throw bad(key, "a string");
    return v;
  };

  const zone = str("zone", "cluster.local").toLowerCase().replace(/\.$/, "");
  if (!isDomainName(zone)) throw bad("zone", "a domain name such as cluster.local (letters, digits and hyphens, labels of at most 63)");

  const pods = str("pods", "off");
  if (pods !== "off" && pods !== "insecure" && pods !== "verified") throw bad("pods", "off, insecure or verified");

  let upstreams: Upstream[];
  if (raw.upstreams === undefined) {
    upstreams = resolvConfUpstreams(resolvConf);
  } else {
    if (!Array.isArray(raw.upstreams) || !raw.upstreams.every((u) => typeof u === "string")) throw bad("upstreams", "a list of IP or IP:PORT strings");
    upstreams = raw.upstreams.map((u: string) => {
      const parsed = parseUpstream(u);
      if (!parsed) throw bad("upstreams", `IP or IP:PORT strings ("${u}" is neither)`);
      return parsed;
    });
  }

  let hostsText = "";
  if (raw.hosts !== undefined) {
    if (typeof raw.hosts === "string") hostsText = raw.hosts;
    else if (Array.isArray(raw.hosts) && raw.hosts.every((l) => typeof l === "string")) hostsText = raw.hosts.join("\n");
    else throw bad("hosts", 'lines in /etc/hosts form ("IP NAME [NAME...]"), as one string or a list');
  }
  let hosts: HostsTable;
  try {
    hosts = parseHosts(hostsText);
  } catch (err) {
    throw new WeftError(DNS_CONFIG_INVALID, `${where}: "hosts": ${(err as Error).message}`, { hint: 'each line is "IP NAME [NAME...]"' });
  }

  const listen = str("listen", "0.0.0.0");
  if (isIP(listen) === 0) throw bad("listen", "an IP address such as 0.0.0.0 or ::");

  return {
    zone,
    ttl: int("ttl", 5, 0, 3600),
    pods,
    upstreams,
    cacheSize: int("cacheSize", 10000, 0, 1_000_000),
    cacheMaxTtl: int("cacheMaxTtl", 3600, 0, 604800),
    hosts,
    listen,
    port: int("port", 53, 0, 65535),
    httpPort: int("httpPort", 8080, 0, 65535),
  };
}

/** "IP", "IP:PORT" or "[IPv6]:PORT" → an upstream (port 53 by default), or null. */
export function parseUpstream(text: string): Upstream | null {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  let host: string;
  let port = "53";
  if (bracket) {
    host = bracket[1]!;
    port = bracket[2] ?? "53";
  } else if (isIP(text) !== 0) {
    host = text;
  } else {
    const i = text.lastIndexOf(":");
    if (i < 0) return null;
    host = text.slice(0, i);
    port = text.slice(i + 1);
    if (isIP(host) !== 4) return null;
  }
  const n = Number(port);
  if (isIP(host) === 0 || !/^\d+$/.test(port) || n < 1 || n > 65535) return null;
  return { host, port: n };
}

/** The nameservers of a resolv.conf, as upstreams on port 53; an unreadable file gives none. */
export function resolvConfUpstreams(path: string): Upstream[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  const out: Upstream[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const host = m[1]!.replace(/%.*$/, "");
    if (isIP(host) !== 0) out.push({ host, port: 53 });
  }
  return out;
}

/** True for a lower-case domain name of letter-digit-hyphen labels. */
function isDomainName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split(".").every((l) => /^[a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?$/.test(l));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
