/**
 * The subnet file's format (file.ts says what the file is): its parser,
 * its writer's text, and reading it through a function the caller gives.
 * Imports no Node.js module, since the CNI plugin reads the file with it
 * (through its own calls, src/sys/syscalls.ts).
 */
import { WeftError } from "../lib/errors.ts";
import { contains, formatIp, formatPrefix, isDigits, lastOf, parseInterfaceAddress, parsePrefix, type Prefix } from "../lib/ipv4.ts";

/** Default location of the subnet file. */
export const DEFAULT_SUBNET_FILE = "/run/weft/subnet.env";

/** The parsed subnet file. */
export interface NodeSubnet {
  /** The cluster CIDR, e.g. 10.244.0.0/16. */
  network: Prefix;
  /** The node subnet, e.g. 10.244.1.0/24. */
  subnet: Prefix;
  /** The gateway address on the node bridge: the subnet's first address. */
  gateway: number;
  /** MTU for pod interfaces. */
  mtu: number;
  /** Whether pod traffic leaving the cluster CIDR is masqueraded. */
  ipMasq: boolean;
}

/** Error code when the file does not exist yet (the agent has not leased). */
export const SUBNET_FILE_MISSING = "SUBNET_FILE_MISSING";
/** Error code when the file exists but a key is missing or malformed. */
export const SUBNET_FILE_INVALID = "SUBNET_FILE_INVALID";

/** Parses the text of a subnet file; `path` is used in error messages. */
export function parseSubnetFile(text: string, path: string): NodeSubnet {
  const values = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq < 1) throw invalid(path, `line "${line}" is not KEY=VALUE`);
    values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const need = (key: string): string => {
    const v = values.get(key);
    if (v === undefined || v === "") throw invalid(path, `${key} is missing`);
    return v;
  };
  const field = <T>(key: string, parse: (v: string) => T): T => {
    const v = need(key);
    try {
      return parse(v);
    } catch {
      throw invalid(path, `${key}="${v}" is not valid`);
    }
  };
  const network = field("WEFT_NETWORK", (v) => parsePrefix(v));
  const { ip: gateway, prefix: subnet } = field("WEFT_SUBNET", (v) => parseInterfaceAddress(v));
  const mtu = field("WEFT_MTU", (v) => {
    const n = Number(v);
    if (!isDigits(v) || n < 576 || n > 65535) throw new Error("range");
    return n;
  });
  const ipMasq = field("WEFT_IPMASQ", (v) => {
    if (v !== "true" && v !== "false") throw new Error("bool");
    return v === "true";
  });
  if (subnet.len < network.len || !contains(network, subnet.base)) {
    throw invalid(path, `WEFT_SUBNET=${need("WEFT_SUBNET")} is not inside WEFT_NETWORK=${formatPrefix(network)}`);
  }
  if (subnet.len > 30) throw invalid(path, `WEFT_SUBNET=${need("WEFT_SUBNET")} leaves no room for pods (use /30 or larger)`);
  // The gateway goes on the bridge and is every pod's default route: it must be a host address.
  const role = gateway === subnet.base ? "network" : gateway === lastOf(subnet) ? "broadcast" : undefined;
  if (role) {
    throw invalid(path, `WEFT_SUBNET=${need("WEFT_SUBNET")} is the subnet's ${role} address, which cannot be the gateway; the agent writes the first host address, ${formatIp(subnet.base + 1)}/${subnet.len}`);
  }
  return { network, subnet, gateway, mtu, ipMasq };
}

/**
 * readSubnetFile with another way to read: `read` returns the text, or
 * undefined when the file does not exist. For the CNI plugin, which reads
 * files without node:fs (see src/sys/syscalls.ts).
 */
export function readSubnetFileWith(path: string, read: (path: string) => string | undefined): NodeSubnet {
  let text: string | undefined;
  try {
    text = read(path);
  } catch (err) {
    throw new WeftError(SUBNET_FILE_INVALID, `cannot read subnet file ${path}: ${(err as Error).message}`);
  }
  if (text === undefined) {
    throw new WeftError(SUBNET_FILE_MISSING, `subnet file ${path} does not exist: the weft agent has not leased a subnet for this node yet`, {
      hint: "start the weft agent on this node (or wait until it is ready) and retry",
    });
  }
  return parseSubnetFile(text, path);
}

/** Formats a subnet file's text. */
export function formatSubnetFile(s: NodeSubnet): string {
  return [
    `WEFT_NETWORK=${formatPrefix(s.network)}`,
    `WEFT_SUBNET=${formatIp(s.gateway)}/${s.subnet.len}`,
    `WEFT_MTU=${s.mtu}`,
    `WEFT_IPMASQ=${s.ipMasq}`,
    "",
  ].join("\n");
}

function invalid(path: string, what: string): WeftError {
  return new WeftError(SUBNET_FILE_INVALID, `malformed subnet file ${path}: ${what}`, {
    hint: "the weft agent writes this file; restart it or remove the file",
  });
}
