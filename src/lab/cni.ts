/**
 * A CNI client that calls plugins the way libcni (containerd, CRI-O, Podman)
 * does, so the lab exercises a plugin exactly as a container runtime would:
 *
 * - the network configuration is the first *.conflist / *.conf / *.json file
 *   in the conf dir, in lexical order (a .conf is a one-plugin list);
 * - each plugin gets the list's `name` and `cniVersion` injected, the
 *   previous plugin's result as `prevResult` (none for the first), and a
 *   `runtimeConfig` with the capability args it declares in `capabilities`;
 * - the plugin is `<first CNI_PATH dir holding it>/<type>`, run with
 *   CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH
 *   added to the environment;
 * - ADD caches the final result, the config and the args in
 *   `<cacheDir>/results/<network>-<containerId>-<ifName>` (libcni's format);
 *   DEL runs the plugins in reverse order, each with the cached result as
 *   `prevResult` (configs at cniVersion 0.4.0 and later), then drops the cache;
 * - a failing plugin's CNI error object ({code, msg, details}) is surfaced.
 *
 * Where a plugin runs (the node's namespace) is the caller's PluginExec.
 */
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WeftError } from "../lib/errors.ts";

/** A network configuration list. */
export interface ConfList {
  /** The file it was loaded from. */
  file: string;
  name: string;
  cniVersion: string;
  /** Each plugin's own configuration; `type` names its executable. */
  plugins: PluginConf[];
  /** The list as conflist text, cached with the result so DEL can use the config ADD used. */
  text: string;
}

/** One plugin's configuration from a list. */
export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

/** What the runtime knows about the container (libcni's RuntimeConf). */
export interface RuntimeConf {
  containerId: string;
  /** The path of the container's network namespace, e.g. /run/netns/lab-pod-web. */
  netns: string;
  ifName: string;
  /** CNI_ARGS as key/value pairs. */
  args: [string, string][];
  /** Capability args, e.g. { portMappings: [...] }; each plugin sees those it declares. */
  capabilityArgs: Record<string, unknown>;
}

/** Runs a plugin executable with extra environment and stdin; the caller decides in which namespace. */
export type PluginExec = (path: string, env: Record<string, string>, stdin: string) => Promise<{ code: number; stdout: string; stderr: string }>;

/** Where plugins and the cache are, and how plugins run. */
export interface CniClient {
  /** CNI_PATH: the directories searched for plugin executables, in order. */
  paths: string[];
  /** The result cache directory (libcni's /var/lib/cni). */
  cacheDir: string;
  exec: PluginExec;
}

/** A CNI result as the plugin printed it. */
export type CniResult = Record<string, unknown>;

/** Error code for a plugin that failed; the CNI error object's fields are on the error. */
export const CNI_PLUGIN_FAILED = "CNI_PLUGIN_FAILED";

/** A plugin failed; `cniCode`, `msg` and `details` come from its CNI error object when it printed one. */
export class CniPluginError extends WeftError {
  readonly plugin: string;
  readonly cniCode: number | undefined;
  readonly msg: string;
  readonly details: string | undefined;

  constructor(plugin: string, command: string, cniCode: number | undefined, msg: string, details: string | undefined) {
    const code = cniCode === undefined ? "" : ` (CNI error ${cniCode})`;
    super(CNI_PLUGIN_FAILED, `CNI plugin "${plugin}" failed on ${command}${code}: ${msg}${details ? `: ${details}` : ""}`);
    this.plugin = plugin;
    this.cniCode = cniCode;
    this.msg = msg;
    this.details = details;
  }
}

const CONF_EXTENSIONS = [".conflist", ".conf", ".json"];

/** Loads the network configuration a runtime would pick from `confDir`: the lexically first file. */
export function loadConfList(confDir: string): ConfList {
  let files: string[] = [];
  try {
    files = readdirSync(confDir).filter((f) => CONF_EXTENSIONS.some((e) => f.endsWith(e))).sort();
  } catch {
    // A missing directory is the same as an empty one.
  }
  if (files.length === 0) {
    throw new WeftError("CNI_CONFIG_MISSING", `no CNI network configuration in ${confDir}`, {
      hint: "install one (weft install-cni --conf-dir DIR writes 10-weft.conflist)",
    });
  }
  const file = join(confDir, files[0]!);
  return parseConfList(readFileSync(file, "utf8"), file);
}

/**
 * Parses a .conflist, or (unless `isList`) a single-plugin .conf/.json turned
 * into a one-plugin list as libcni does; `file` names the input in errors.
 */
export function parseConfList(text: string, file: string, isList = file.endsWith(".conflist")): ConfList {
  const bad = (what: string) => new WeftError("CNI_CONFIG_INVALID", `invalid CNI configuration ${file}: ${what}`);
  let conf: Record<string, unknown>;
  try {
    conf = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (typeof conf !== "object" || conf === null || Array.isArray(conf)) throw bad("not a JSON object");
  const plugins = isList ? conf.plugins : [conf];
  if (typeof conf.name !== "string" || conf.name === "") throw bad(`"name" is missing`);
  if (typeof conf.cniVersion !== "string") throw bad(`"cniVersion" is missing`);
  if (!Array.isArray(plugins) || plugins.length === 0) throw bad(`"plugins" must be a non-empty list`);
  for (const [i, p] of plugins.entries()) {
    if (typeof p !== "object" || p === null || typeof (p as PluginConf).type !== "string") throw bad(`plugin ${i} has no "type"`);
  }
  // The cache keeps the list form, like libcni's list.Bytes.
  const listText = isList ? text : JSON.stringify({ cniVersion: conf.cniVersion, name: conf.name, plugins });
  return { file, name: conf.name, cniVersion: conf.cniVersion, plugins: plugins as PluginConf[], text: listText };
}

/** ADD: runs every plugin in order, chaining results; caches and returns the last result. */
export async function addNetworkList(client: CniClient, list: ConfList, rt: RuntimeConf): Promise<CniResult> {
  let result: CniResult | undefined;
  for (const plugin of list.plugins) {
    const stdout = await invoke(client, "ADD", list, plugin, result, rt);
    try {
      result = JSON.parse(stdout) as CniResult;
    } catch {
      throw new CniPluginError(plugin.type, "ADD", undefined, "it exited 0 but printed no JSON result", stdout.slice(0, 200) || undefined);
    }
  }
  writeCache(client, list, rt, result!);
  return result!;
}

/** DEL: runs every plugin in reverse order with the cached result as prevResult, then drops the cache. */
export async function delNetworkList(client: CniClient, list: ConfList, rt: RuntimeConf): Promise<void> {
  const cached = versionAtLeast(list.cniVersion, "0.4.0") ? readCache(client, list.name, rt)?.result : undefined;
  for (const plugin of [...list.plugins].reverse()) {
    await invoke(client, "DEL", list, plugin, cached, rt);
  }
  rmSync(cachePath(client, list.name, rt), { force: true });
}

/** What ADD cached for a container. */
export interface CacheEntry {
  /** The configuration ADD used. */
  list: ConfList;
  /** `rt` with the args and capability args ADD used. */
  rt: RuntimeConf;
  result: CniResult;
}

/** The cache entry of `networkName` for `rt`'s container and interface, or null. */
export function readCache(client: CniClient, networkName: string, rt: RuntimeConf): CacheEntry | null {
  const path = cachePath(client, networkName, rt);
  let entry: { kind?: string; config?: string; cniArgs?: [string, string][]; capabilityArgs?: Record<string, unknown>; result?: CniResult };
  try {
    entry = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return null;
  }
  if (entry.kind !== "cniCacheV1" || !entry.config || !entry.result) return null;
  return {
    list: parseConfList(Buffer.from(entry.config, "base64").toString("utf8"), path, true),
    rt: { ...rt, args: entry.cniArgs ?? rt.args, capabilityArgs: entry.capabilityArgs ?? {} },
    result: entry.result,
  };
}

function writeCache(client: CniClient, list: ConfList, rt: RuntimeConf, result: CniResult): void {
  const path = cachePath(client, list.name, rt);
  mkdirSync(join(client.cacheDir, "results"), { recursive: true, mode: 0o700 });
  const entry = {
    kind: "cniCacheV1",
    containerId: rt.containerId,
    config: Buffer.from(list.text).toString("base64"),
    ifName: rt.ifName,
    networkName: list.name,
    cniArgs: rt.args,
    capabilityArgs: rt.capabilityArgs,
    result,
  };
  writeFileSync(path, JSON.stringify(entry), { mode: 0o600 });
}

function cachePath(client: CniClient, networkName: string, rt: RuntimeConf): string {
  return join(client.cacheDir, "results", `${networkName}-${rt.containerId}-${rt.ifName}`);
}

/** The config one plugin sees on stdin. */
export function pluginStdin(list: ConfList, plugin: PluginConf, prevResult: CniResult | undefined, rt: RuntimeConf): string {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  if (prevResult !== undefined) conf.prevResult = prevResult;
  const runtimeConfig: Record<string, unknown> = {};
  for (const [capability, supported] of Object.entries(plugin.capabilities ?? {})) {
    if (supported && capability in rt.capabilityArgs) runtimeConfig[capability] = rt.capabilityArgs[capability];
  }
  if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
  return JSON.stringify(conf);
}

async function invoke(client: CniClient, command: "ADD" | "DEL", list: ConfList, plugin: PluginConf, prevResult: CniResult | undefined, rt: RuntimeConf): Promise<string> {
  const path = findPlugin(plugin.type, client.paths);
  const env = {
    CNI_COMMAND: command,
    CNI_CONTAINERID: rt.containerId,
    CNI_NETNS: rt.netns,
    CNI_IFNAME: rt.ifName,
    CNI_ARGS: rt.args.map(([k, v]) => `${k}=${v}`).join(";"),
    CNI_PATH: client.paths.join(":"),
  };
  const r = await client.exec(path, env, pluginStdin(list, plugin, prevResult, rt));
  if (r.code === 0) return r.stdout;
  let error: { code?: unknown; msg?: unknown; details?: unknown } | undefined;
  try {
    error = JSON.parse(r.stdout);
  } catch {
    // Not a CNI error object: fall back to stderr below.
  }
  if (error && typeof error.msg === "string") {
    throw new CniPluginError(plugin.type, command, typeof error.code === "number" ? error.code : undefined, error.msg, typeof error.details === "string" && error.details !== "" ? error.details : undefined);
  }
  const stderr = r.stderr.trim().split("\n").slice(-3).join("; ");
  throw new CniPluginError(plugin.type, command, undefined, stderr || `exit status ${r.code} with no error message`, undefined);
}

/** The first `<dir>/<type>` in `paths` that is executable. */
export function findPlugin(type: string, paths: readonly string[]): string {
  if (type.includes("/")) throw new WeftError("CNI_PLUGIN_NOT_FOUND", `invalid CNI plugin type "${type}"`);
  for (const dir of paths) {
    const path = join(dir, type);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // Not in this directory.
    }
  }
  throw new WeftError("CNI_PLUGIN_NOT_FOUND", `CNI plugin "${type}" is not in ${paths.join(":")}`, {
    hint: type === "weft" ? "install it with weft install-cni --bin-dir DIR" : `install the plugin into ${paths[0]}`,
  });
}

/** True when CNI version `v` is `min` or later. */
export function versionAtLeast(v: string, min: string): boolean {
  const a = v.split(".").map(Number);
  const b = min.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}
