/**
 * The agent's configuration: every option with its default, read from an
 * optional JSON file (`--config FILE`) and then from flags, which win.
 * The file uses the flags' names in camelCase, e.g.
 *
 *     { "podCidr": "10.244.0.0/16", "backend": "vxlan", "vxlanVni": 1,
 *       "iface": ["eth1"], "store": "etcd",
 *       "etcdEndpoints": ["https://10.0.0.5:2379"], "etcdCaFile": "/etc/weft/ca.pem" }
 *
 * An unknown key, a value of the wrong type or a value out of range is an
 * error naming the key (or flag) and the value, before anything is touched.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { BACKENDS } from "../backend/registry.ts";
import { DEFAULT_PORT, DEFAULT_VNI } from "../backend/vxlan/vxlan.ts";
import { requireAbsolute } from "../lib/dirs.ts";
import { WeftError } from "../lib/errors.ts";
import { contains, formatPrefix, maskOf, parseIp, parsePrefix, tryParseIp } from "../lib/ipv4.ts";
import { DEFAULT_EMBEDDED_DIR } from "../store/embedded/store.ts";
import { STORES, type StoreOptions } from "../store/registry.ts";

/** Everything `weft agent` can be told. */
export interface AgentConfig {
  /** This node's name, unique in the cluster; it identifies our lease. Default: the hostname. */
  nodeName: string;
  /** The cluster CIDR node subnets are leased from. Default 10.244.0.0/16. */
  podCidr: string;
  /** The prefix length of one node subnet. Default 24. */
  subnetLen: number;
  /** The lowest node subnet's address that may be leased, e.g. 10.244.10.0. Default: the first. */
  subnetMin: string | undefined;
  /** The highest node subnet's address that may be leased. Default: the last. */
  subnetMax: string | undefined;
  /** `vxlan` or `host-gw`. Default vxlan. */
  backend: string;
  /** vxlan: the VNI; the device is `weft.<VNI>`. Default 1. */
  vxlanVni: number;
  /** vxlan: the UDP port. Default 8472. */
  vxlanPort: number;
  /** The pod MTU; at most the underlay MTU minus the backend's overhead. Default: exactly that. */
  mtu: number | undefined;
  /** Underlay interface names or addresses, tried in order. Default none (see agent/iface.ts). */
  iface: string[];
  /** Regular expressions choosing the underlay. Default none. */
  ifaceRegex: string[];
  /** Choose the interface that reaches this address. Default none. */
  ifaceCanReach: string | undefined;
  /** The address to advertise. Default: the chosen interface's. */
  publicIp: string | undefined;
  /** Masquerade pod traffic leaving the cluster CIDR. Default true. */
  ipMasq: boolean;
  /** Run the service proxy (table ip weft-proxy, from Services and EndpointSlices; see src/proxy). Default false. */
  serviceProxy: boolean;
  /** The service CIDR: its unallocated addresses are dropped by the service proxy. Default 10.96.0.0/12. */
  serviceCidr: string;
  /** Enforce NetworkPolicy (table inet weft-policy; see src/policy) where the agent has a Kubernetes API. Default true. */
  networkPolicy: boolean;
  /** Network policy: delete the conntrack entries of flows a policy starts denying. Default false (they continue). */
  strictPolicy: boolean;
  /** `kubernetes`, `embedded` or `etcd`. Default kubernetes in a pod or with a kubeconfig, else embedded (set by the CLI). */
  store: string;
  /** kubernetes: the kubeconfig file. Default: the in-cluster configuration. */
  kubeconfig: string | undefined;
  /** embedded: the shared directory. Default /var/lib/weft/store. */
  storeDir: string;
  /** etcd: client URLs. Default http://127.0.0.1:2379. */
  etcdEndpoints: string[];
  /** etcd: key prefix. Default /weft/subnets/. */
  etcdPrefix: string | undefined;
  /** etcd: CA, client certificate and key files (PEM). Default none. */
  etcdCaFile: string | undefined;
  etcdCertFile: string | undefined;
  etcdKeyFile: string | undefined;
  /** Runtime files: subnet.env and agent.sock. Default /run/weft. */
  runDir: string;
  /** Persistent state; the CNI plugin's IPAM store is STATE_DIR/ipam. Default /var/lib/weft. */
  stateDir: string;
  /** Lease time to live, in seconds. Default 86400 (24 h). */
  leaseTtl: number;
  /** Seconds between resyncs that repair drifted kernel state. Default 5. */
  resyncInterval: number;
  /** Also serve the API on 127.0.0.1:PORT. Default: the unix socket only. */
  apiPort: number | undefined;
}

/** The defaults, for every key that has one. */
export function defaultConfig(): AgentConfig {
  return {
    nodeName: hostname(),
    podCidr: "10.244.0.0/16",
    subnetLen: 24,
    subnetMin: undefined,
    subnetMax: undefined,
    backend: "vxlan",
    vxlanVni: DEFAULT_VNI,
    vxlanPort: DEFAULT_PORT,
    mtu: undefined,
    iface: [],
    ifaceRegex: [],
    ifaceCanReach: undefined,
    publicIp: undefined,
    ipMasq: true,
    serviceProxy: false,
    serviceCidr: "10.96.0.0/12",
    networkPolicy: true,
    strictPolicy: false,
    store: "embedded",
    kubeconfig: undefined,
    storeDir: DEFAULT_EMBEDDED_DIR,
    etcdEndpoints: ["http://127.0.0.1:2379"],
    etcdPrefix: undefined,
    etcdCaFile: undefined,
    etcdCertFile: undefined,
    etcdKeyFile: undefined,
    runDir: "/run/weft",
    stateDir: "/var/lib/weft",
    leaseTtl: 86_400,
    resyncInterval: 5,
    apiPort: undefined,
  };
}

/** Error code for a bad config file, key or flag value. */
export const AGENT_CONFIG_INVALID = "AGENT_CONFIG_INVALID";

type Kind = "string" | "strings" | "integer" | "boolean" | "optString" | "optInteger";

/** Each key's type, which is also the list of keys a config file may hold. */
export const CONFIG_KEYS: Readonly<Record<keyof AgentConfig, Kind>> = {
  nodeName: "string", podCidr: "string", subnetLen: "integer", subnetMin: "optString", subnetMax: "optString",
  backend: "string", vxlanVni: "integer", vxlanPort: "integer", mtu: "optInteger",
  iface: "strings", ifaceRegex: "strings", ifaceCanReach: "optString", publicIp: "optString",
  ipMasq: "boolean", serviceProxy: "boolean", serviceCidr: "string", networkPolicy: "boolean", strictPolicy: "boolean", store: "string", kubeconfig: "optString", storeDir: "string", etcdEndpoints: "strings", etcdPrefix: "optString",
  etcdCaFile: "optString", etcdCertFile: "optString", etcdKeyFile: "optString",
  runDir: "string", stateDir: "string", leaseTtl: "integer", resyncInterval: "integer", apiPort: "optInteger",
};

/** The flag spelling of a key: `podCidr` → `--pod-cidr`. */
export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Reads a JSON config file into a partial config; throws AGENT_CONFIG_INVALID naming the file and key. */
export function readConfigFile(path: string): Partial<AgentConfig> {
  let text: string;
  try {
    text = readFileSync(requireAbsolute(path, "--config"), "utf8");
  } catch (err) {
    if (err instanceof WeftError) throw err;
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new WeftError(AGENT_CONFIG_INVALID, `cannot read config file ${path}: ${why}`, { hint: "give a JSON object of agent options (see weft agent --help)" });
  }
  return parseConfigText(text, path);
}

/**
 * Parses a config file's text (`path` names it in errors). A value is
 * reported as the file spells it, so 1e400 is not shown as JSON's null.
 */
export function parseConfigText(text: string, path: string): Partial<AgentConfig> {
  // Each primitive's source text, by the object holding it (JSON.parse source text access).
  const literals = new WeakMap<object, Map<string, string>>();
  let raw: unknown;
  try {
    raw = JSON.parse(text, function (this: object, key: string, value: unknown, context?: { source?: string }) {
      if (context?.source !== undefined) {
        if (!literals.has(this)) literals.set(this, new Map());
        literals.get(this)!.set(key, context.source);
      }
      return value;
    } as (this: unknown, key: string, value: unknown) => unknown);
  } catch (err) {
    throw new WeftError(AGENT_CONFIG_INVALID, `cannot read config file ${path}: ${(err as Error).message}`, { hint: "give a JSON object of agent options (see weft agent --help)" });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new WeftError(AGENT_CONFIG_INVALID, `config file ${path} must hold a JSON object`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!Object.hasOwn(CONFIG_KEYS, key)) {
      throw new WeftError(AGENT_CONFIG_INVALID, `config file ${path}: unknown key ${JSON.stringify(key)}`, { hint: `known keys: ${Object.keys(CONFIG_KEYS).join(", ")}` });
    }
    const shown = literals.get(raw)?.get(key) ?? JSON.stringify(value);
    out[key] = checkType(CONFIG_KEYS[key as keyof AgentConfig], value, `config file ${path}: "${key}" is ${shown}`);
  }
  return out as Partial<AgentConfig>;
}

function checkType(kind: Kind, value: unknown, where: string): unknown {
  const bad = (expected: string) => new WeftError(AGENT_CONFIG_INVALID, `${where}: expected ${expected}`);
  switch (kind) {
    case "string":
    case "optString":
      if (typeof value !== "string" || value === "") throw bad("a non-empty string");
      return value;
    case "strings":
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string" && v !== "")) throw bad("an array of strings");
      return value;
    case "integer":
    case "optInteger":
      // Beyond 2^53 a JSON number is no longer the integer it spells.
      if (!Number.isSafeInteger(value)) throw bad(typeof value === "number" ? "an integer of at most 2^53 - 1 in magnitude" : "an integer");
      return value;
    case "boolean":
      if (typeof value !== "boolean") throw bad("true or false");
      return value;
  }
}

/** Parses a flag's text for `key` (flags arrive as strings). */
export function parseFlagValue(key: keyof AgentConfig, text: string): unknown {
  if (CONFIG_KEYS[key] === "integer" || CONFIG_KEYS[key] === "optInteger") {
    if (!/^-?\d+$/.test(text)) throw new WeftError(AGENT_CONFIG_INVALID, `${flagOf(key)} ${text}: expected an integer`);
    if (!Number.isSafeInteger(Number(text))) throw new WeftError(AGENT_CONFIG_INVALID, `${flagOf(key)} ${text}: expected an integer of at most 2^53 - 1 in magnitude`);
    return Number(text);
  }
  return text;
}

/**
 * Checks values against each other and their ranges, and puts them in
 * canonical form (e.g. the CIDR). Throws AGENT_CONFIG_INVALID naming the
 * flag, the value and what is allowed.
 */
export function validateConfig(c: AgentConfig): AgentConfig {
  const invalid = (key: keyof AgentConfig, why: string, hint?: string) =>
    new WeftError(AGENT_CONFIG_INVALID, `invalid ${flagOf(key)} ${JSON.stringify(c[key])}: ${why}`, hint ? { hint } : {});
  const inRange = (key: keyof AgentConfig, lo: number, hi: number) => {
    const v = c[key];
    if (typeof v === "number" && (v < lo || v > hi)) throw invalid(key, `expected ${lo} to ${hi}`);
  };
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(c.nodeName)) {
    throw invalid("nodeName", "a node name is letters, digits, dots and dashes", "give --node-name");
  }
  const cidr = parsePrefix(c.podCidr, flagOf("podCidr"));
  inRange("subnetLen", 1, 30);
  if (c.subnetLen <= cidr.len) throw invalid("subnetLen", `a node subnet must be smaller than the cluster CIDR ${formatPrefix(cidr)}`);
  for (const key of ["subnetMin", "subnetMax"] as const) {
    const v = c[key];
    if (v === undefined) continue;
    const ip = parseIp(v, flagOf(key));
    if (!contains(cidr, ip)) throw invalid(key, `not inside the cluster CIDR ${formatPrefix(cidr)}`);
    if (((ip & ~maskOf(c.subnetLen)) >>> 0) !== 0) throw invalid(key, `not the first address of a /${c.subnetLen}`);
  }
  if (c.subnetMin !== undefined && c.subnetMax !== undefined && parseIp(c.subnetMin) > parseIp(c.subnetMax)) {
    throw invalid("subnetMin", `above --subnet-max ${c.subnetMax}`);
  }
  if (!Object.hasOwn(BACKENDS, c.backend)) throw invalid("backend", "unknown backend", `use one of: ${Object.keys(BACKENDS).join(", ")}`);
  inRange("vxlanVni", 1, 0xffffff);
  inRange("vxlanPort", 1, 65535);
  inRange("mtu", 576, 65535);
  if (c.ifaceCanReach !== undefined) {
    const why = notUnderlayAddress(parseIp(c.ifaceCanReach, flagOf("ifaceCanReach")));
    if (why) throw invalid("ifaceCanReach", `${why}, which no other node reaches`, "give an address of another node or of the underlay's gateway");
  }
  if (c.publicIp !== undefined) {
    const ip = tryParseIp(c.publicIp);
    if (ip === undefined) throw invalid("publicIp", "not an IPv4 address");
    const why = notUnderlayAddress(ip);
    if (why) throw invalid("publicIp", `${why}; peers could not reach this node at it`, "advertise an address of the underlay interface");
  }
  for (const key of ["runDir", "stateDir", "storeDir", "etcdCaFile", "etcdCertFile", "etcdKeyFile", "kubeconfig"] as const) {
    const v = c[key];
    if (v !== undefined) requireAbsolute(v, flagOf(key));
  }
  if (!Object.hasOwn(STORES, c.store)) throw invalid("store", "unknown store", `use one of: ${Object.keys(STORES).join(", ")}`);
  for (const url of c.etcdEndpoints) {
    if (!/^https?:\/\/[^/]+\/?$/.test(url)) throw invalid("etcdEndpoints", `"${url}" is not an http(s)://HOST:PORT URL`);
  }
  if ((c.etcdCertFile === undefined) !== (c.etcdKeyFile === undefined)) {
    throw invalid("etcdCertFile", "a client certificate needs its key, and a key its certificate", "give both --etcd-cert-file and --etcd-key-file");
  }
  inRange("leaseTtl", 10, 7 * 86_400);
  inRange("resyncInterval", 1, 3600);
  inRange("apiPort", 1, 65535);
  const serviceCidr = parsePrefix(c.serviceCidr, flagOf("serviceCidr"));
  return { ...c, podCidr: formatPrefix(cidr), serviceCidr: formatPrefix(serviceCidr) };
}

/** Why `ip` can never be a node's underlay address (loopback, unspecified, multicast, reserved), or undefined. */
function notUnderlayAddress(ip: number): string | undefined {
  const first = ip >>> 24;
  if (first === 127) return "a loopback address";
  if (ip === 0) return "the unspecified address";
  if (first >= 224 && first < 240) return "a multicast address";
  if (first >= 240) return "a reserved or broadcast address";
  return undefined;
}

/** Where the agent keeps its files, all derived from runDir and stateDir. */
export interface AgentPaths {
  runDir: string;
  stateDir: string;
  /** The subnet file the CNI plugin reads. */
  subnetFile: string;
  /** The API's unix socket. */
  socket: string;
  /** The CNI plugin's IPAM store (its dataDir). */
  ipamDir: string;
}

/** The agent's paths for `c`. */
export function agentPaths(c: Pick<AgentConfig, "runDir" | "stateDir">): AgentPaths {
  return {
    runDir: c.runDir,
    stateDir: c.stateDir,
    subnetFile: join(c.runDir, "subnet.env"),
    socket: join(c.runDir, "agent.sock"),
    ipamDir: join(c.stateDir, "ipam"),
  };
}

/** The store options `c` describes, for createStore. */
export function storeOptions(c: AgentConfig): StoreOptions {
  return {
    embedded: { dir: c.storeDir },
    kubernetes: { kubeconfig: c.kubeconfig },
    etcd: {
      endpoints: c.etcdEndpoints,
      ...(c.etcdPrefix !== undefined && { prefix: c.etcdPrefix }),
      ...(c.etcdCaFile !== undefined && { caFile: c.etcdCaFile }),
      ...(c.etcdCertFile !== undefined && { certFile: c.etcdCertFile }),
      ...(c.etcdKeyFile !== undefined && { keyFile: c.etcdKeyFile }),
    },
  };
}
