/**
 * The CNI_* environment, validated per verb the way the spec requires:
 * a missing or malformed variable is error 4 naming the variable.
 */
import { CniError, ERR_INVALID_ENV } from "./errors.ts";
import { MAX_CONTAINER_ID } from "../ipam/records.ts";

export type Verb = "ADD" | "DEL" | "CHECK" | "STATUS" | "GC" | "VERSION";
const VERBS: readonly string[] = ["ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"];

/** The CNI_* variables a verb reads; "" for one it does not read. */
export interface CniEnv {
  command: Verb;
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS as key/value pairs (K8S_POD_NAME, K8S_POD_NAMESPACE, …). */
  args: Map<string, string>;
}

/**
 * The variables each verb reads, which are the ones the spec requires of
 * the runtime, except CNI_PATH: weft delegates to no plugin, so it never
 * needs one (the spec makes it optional for ADD, DEL and CHECK, and
 * required of a runtime only for GC). A verb ignores every other variable,
 * whatever it holds: libcni's VERSION probe sets CNI_CONTAINERID,
 * CNI_NETNS, CNI_IFNAME and CNI_PATH to "dummy", and STATUS and GC have no
 * container at all. DEL reads no CNI_NETNS: it finds the veth by the
 * attachment's name. CNI_ARGS is optional, and only ADD reads it (the pod
 * name it records).
 */
const READS: Record<Verb, { containerId: boolean; netns: boolean; ifname: boolean; args: boolean }> = {
  ADD: { containerId: true, netns: true, ifname: true, args: true },
  CHECK: { containerId: true, netns: true, ifname: true, args: false },
  DEL: { containerId: true, netns: false, ifname: true, args: false },
  STATUS: { containerId: false, netns: false, ifname: false, args: false },
  GC: { containerId: false, netns: false, ifname: false, args: false },
  VERSION: { containerId: false, netns: false, ifname: false, args: false },
};

// The two checks below are loops, not RegExps: every ADD runs them, and
// the first use of each RegExp costs the plugin 30–60 µs to compile.

const isAlnum = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** The spec's rule for container IDs and network names: letters, digits, "_", "." and "-", starting with a letter or digit. */
export function isCniName(s: string): boolean {
  if (s.length === 0 || !isAlnum(s.charCodeAt(0))) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isAlnum(c) && c !== 95 && c !== 46 && c !== 45) return false;
  }
  return true;
}

/**
 * True when `name` is a valid Linux interface name: 1–15 bytes of UTF-8
 * (the kernel's limit is bytes, not characters), not "." or "..", no
 * whitespace, "/", ":" or control character (a NUL would cut the name
 * short on its way to the kernel).
 */
export function isValidIfname(name: string): boolean {
  if (name.length === 0 || name === "." || name === "..") return false;
  let bytes = 0;
  let ascii = true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 47 || c === 58 || c <= 32 || c === 127) return false;
    // A surrogate pair is one 4-byte character: 2 bytes for each half.
    bytes += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 2 : 3;
    if (c > 127) ascii = false;
  }
  // Beyond ASCII, JavaScript's idea of whitespace is a long list.
  return bytes <= 15 && (ascii || !/[\s/:]/.test(name));
}

/** Reads the variables `CNI_COMMAND`'s verb uses (see READS); the others are "" and an empty CNI_ARGS. */
export function readEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = env.CNI_COMMAND ?? "";
  if (!VERBS.includes(command)) {
    throw new CniError(ERR_INVALID_ENV, command === "" ? "CNI_COMMAND is not set" : `CNI_COMMAND "${command}" is not a CNI verb (ADD, DEL, CHECK, STATUS, GC, VERSION)`);
  }
  const verb = command as Verb;
  const reads = READS[verb];
  const required = (name: string): string => {
    const v = env[name];
    if (!v) throw new CniError(ERR_INVALID_ENV, `${name} is required for ${verb} but is not set`);
    return v;
  };
  let containerId = "";
  if (reads.containerId) {
    containerId = required("CNI_CONTAINERID");
    if (!isCniName(containerId)) {
      throw new CniError(ERR_INVALID_ENV, `CNI_CONTAINERID "${containerId}" is invalid: use letters, digits, "_", "." and "-", starting with a letter or digit`);
    }
    if (containerId.length > MAX_CONTAINER_ID) {
      throw new CniError(ERR_INVALID_ENV, `CNI_CONTAINERID is ${containerId.length} characters long; weft's IPAM store holds at most ${MAX_CONTAINER_ID}`);
    }
  }
  let netns = "";
  if (reads.netns) {
    netns = required("CNI_NETNS");
    if (!netns.startsWith("/")) throw new CniError(ERR_INVALID_ENV, `CNI_NETNS "${netns}" must be an absolute path to a network namespace`);
  }
  let ifname = "";
  if (reads.ifname) {
    ifname = required("CNI_IFNAME");
    if (!isValidIfname(ifname)) {
      throw new CniError(ERR_INVALID_ENV, `CNI_IFNAME "${ifname}" is not a valid interface name (1-15 bytes, no "/", ":", spaces or control characters)`);
    }
  }
  return { command: verb, containerId, netns, ifname, args: parseCniArgs(reads.args ? (env.CNI_ARGS ?? "") : "") };
}

function parseCniArgs(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of text.split(";")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq < 1) throw new CniError(ERR_INVALID_ENV, `CNI_ARGS "${text}" is malformed: "${pair}" is not KEY=VALUE`);
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}
