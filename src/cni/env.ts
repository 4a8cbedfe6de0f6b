/**
 * The CNI_* environment, validated per verb the way the spec requires:
 * a missing or malformed variable is error 4 naming the variable.
 */
import { CniError, ERR_INVALID_ENV } from "./errors.ts";
import { MAX_CONTAINER_ID } from "../ipam/records.ts";

export type Verb = "ADD" | "DEL" | "CHECK" | "STATUS" | "GC" | "VERSION";
const VERBS: readonly string[] = ["ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"];

export interface CniEnv {
  command: Verb;
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS as key/value pairs (K8S_POD_NAME, K8S_POD_NAMESPACE, …). */
  args: Map<string, string>;
  path: string;
}

/** Which verbs need which variables (CNI_ARGS is never required). */
const REQUIRED: Record<string, readonly Verb[]> = {
  CNI_CONTAINERID: ["ADD", "DEL", "CHECK"],
  CNI_NETNS: ["ADD", "CHECK"],
  CNI_IFNAME: ["ADD", "DEL", "CHECK"],
  CNI_PATH: ["ADD", "DEL", "CHECK", "GC"],
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
 * whitespace, "/" or ":".
 */
export function isValidIfname(name: string): boolean {
  if (name.length === 0 || name === "." || name === "..") return false;
  let bytes = 0;
  let ascii = true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 47 || c === 58 || c === 32 || (c >= 9 && c <= 13)) return false;
    // A surrogate pair is one 4-byte character: 2 bytes for each half.
    bytes += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 2 : 3;
    if (c > 127) ascii = false;
  }
  // Beyond ASCII, JavaScript's idea of whitespace is a long list.
  return bytes <= 15 && (ascii || !/[\s/:]/.test(name));
}

export function readEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = env.CNI_COMMAND ?? "";
  if (!VERBS.includes(command)) {
    throw new CniError(ERR_INVALID_ENV, command === "" ? "CNI_COMMAND is not set" : `CNI_COMMAND "${command}" is not a CNI verb (ADD, DEL, CHECK, STATUS, GC, VERSION)`);
  }
  const verb = command as Verb;
  for (const [name, verbs] of Object.entries(REQUIRED)) {
    if (verbs.includes(verb) && !env[name]) throw new CniError(ERR_INVALID_ENV, `${name} is required for ${verb} but is not set`);
  }
  const containerId = env.CNI_CONTAINERID ?? "";
  if (containerId && !isCniName(containerId)) {
    throw new CniError(ERR_INVALID_ENV, `CNI_CONTAINERID "${containerId}" is invalid: use letters, digits, "_", "." and "-", starting with a letter or digit`);
  }
  if (containerId.length > MAX_CONTAINER_ID) {
    throw new CniError(ERR_INVALID_ENV, `CNI_CONTAINERID is ${containerId.length} characters long; weft's IPAM store holds at most ${MAX_CONTAINER_ID}`);
  }
  const ifname = env.CNI_IFNAME ?? "";
  if (ifname && !isValidIfname(ifname)) {
    throw new CniError(ERR_INVALID_ENV, `CNI_IFNAME "${ifname}" is not a valid interface name (1-15 bytes, no "/", ":" or spaces)`);
  }
  const netns = env.CNI_NETNS ?? "";
  if (netns && !netns.startsWith("/")) throw new CniError(ERR_INVALID_ENV, `CNI_NETNS "${netns}" must be an absolute path to a network namespace`);
  return { command: verb, containerId, netns, ifname, args: parseCniArgs(env.CNI_ARGS ?? ""), path: env.CNI_PATH ?? "" };
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
