/**
 * `weft install-cni --bin-dir DIR [--conf-dir DIR] [--subnet-file F]
 * [--data-dir D] [--bridge NAME]`: installs the plugin executable as
 * DIR/weft and, with --conf-dir, writes 10-weft.conflist there — what the
 * DaemonSet's init container does on every node. Both are replaced
 * atomically, so a runtime never executes or reads half a file.
 *
 * Nothing is written unless the plugin would accept the configuration: the
 * weft entry is checked with the plugin's own parser (cni/config.ts), as a
 * runtime would hand it over, so a value every ADD would refuse (a bridge
 * name the kernel rejects, a relative path) fails here, once. Every path
 * flag must be absolute (lib/dirs.ts).
 */
import { chmodSync, constants, copyFileSync, existsSync, renameSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseCommandArgs } from "../args.ts";
import { parseConfig } from "../../cni/config.ts";
import { buildConflist, CONFLIST_NAME, type ConflistOptions } from "../../cni/conflist.ts";
import { makeDirs, requireAbsolute } from "../../lib/dirs.ts";
import { WeftError } from "../../lib/errors.ts";
import { ROOT } from "../../lib/root.ts";

/** The built plugin executable in this checkout. */
export const PLUGIN_EXECUTABLE = join(ROOT, "build/weft-cni");

const HELP = `usage: weft install-cni --bin-dir DIR [--conf-dir DIR] [--subnet-file FILE] [--data-dir DIR] [--bridge NAME]
  (every path absolute)
  --bin-dir DIR       where the runtime looks for plugins (e.g. /opt/cni/bin); writes DIR/weft
  --conf-dir DIR      where the runtime reads conflists (e.g. /etc/cni/net.d); writes ${CONFLIST_NAME}
  --subnet-file FILE  the agent's subnet file (default /run/weft/subnet.env)
  --data-dir DIR      the IPAM store (default /var/lib/weft/ipam)
  --bridge NAME       the node bridge (default weft0)
`;

function atomicWrite(path: string, write: (tmp: string) => void): void {
  const tmp = `${path}.${process.pid}.tmp`;
  write(tmp);
  renameSync(tmp, path);
}

/** Error code: the conflist would hold a value the plugin refuses. */
export const CNI_CONFIG_INVALID = "CNI_CONFIG_INVALID";

/**
 * Throws CNI_CONFIG_INVALID when the weft plugin would refuse the conflist
 * `o` describes, with the plugin's own message (which names the field).
 */
export function checkConflist(o: ConflistOptions): void {
  const list = buildConflist(o) as { cniVersion: string; name: string; plugins: Record<string, unknown>[] };
  try {
    // buildConflist leaves out empty values; the check sees what was asked for.
    parseConfig({ cniVersion: list.cniVersion, name: list.name, ...list.plugins[0], ...(o.bridge !== undefined && { bridge: o.bridge }) });
  } catch (err) {
    throw new WeftError(CNI_CONFIG_INVALID, `install-cni: the weft plugin would refuse every ADD with this configuration: ${(err as Error).message}`, {
      hint: "fix the flag of that field (bridge: --bridge, subnetFile: --subnet-file, dataDir: --data-dir); nothing was written",
    });
  }
}

/**
 * True when `installed` is the copy an earlier install made of `source`:
 * the same size and modification time (kept by the copy, to the millisecond) and executable,
 * rsync's quick check. The executable is large (the runtime is in it), and
 * the init container runs on every start of every node's agent pod.
 */
function sameExecutable(source: string, installed: string): boolean {
  try {
    const a = statSync(source);
    const b = statSync(installed);
    return b.isFile() && a.size === b.size && Math.abs(a.mtimeMs - b.mtimeMs) < 1 && (b.mode & 0o777) === 0o755;
  } catch {
    return false;
  }
}

/** Installs the executable (and optionally the conflist); returns the paths written. Checks everything before writing anything. */
export function installCni(o: { binDir: string; confDir?: string | undefined } & ConflistOptions): string[] {
  if (!existsSync(PLUGIN_EXECUTABLE)) throw new WeftError("NOT_BUILT", `the plugin executable ${PLUGIN_EXECUTABLE} is not built`, { hint: "run scripts/setup.sh" });
  checkConflist(o);
  makeDirs(o.binDir, "--bin-dir");
  const bin = join(o.binDir, "weft");
  if (!sameExecutable(PLUGIN_EXECUTABLE, bin)) {
    atomicWrite(bin, (tmp) => {
      // A reflink where the filesystem has them, else a copy.
      copyFileSync(PLUGIN_EXECUTABLE, tmp, constants.COPYFILE_FICLONE);
      chmodSync(tmp, 0o755);
      const { atime, mtime } = statSync(PLUGIN_EXECUTABLE);
      utimesSync(tmp, atime, mtime);
    });
  }
  const written = [bin];
  if (o.confDir) {
    makeDirs(o.confDir, "--conf-dir");
    const conf = join(o.confDir, CONFLIST_NAME);
    atomicWrite(conf, (tmp) => writeFileSync(tmp, JSON.stringify(buildConflist(o), null, 2) + "\n"));
    written.push(conf);
  }
  return written;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs("install-cni", argv, {
    "bin-dir": { type: "string" },
    "conf-dir": { type: "string" },
    "subnet-file": { type: "string" },
    "data-dir": { type: "string" },
    bridge: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!values["bin-dir"]) throw new WeftError("USAGE", "install-cni: --bin-dir is required", { hint: "e.g. weft install-cni --bin-dir /opt/cni/bin --conf-dir /etc/cni/net.d" });
  const abs = (flag: string) => {
    const p = values[flag.slice(2) as "bin-dir"];
    return p === undefined ? undefined : requireAbsolute(p, flag);
  };
  const written = installCni({
    binDir: abs("--bin-dir")!,
    confDir: abs("--conf-dir"),
    subnetFile: abs("--subnet-file"),
    dataDir: abs("--data-dir"),
    ...(values.bridge !== undefined && { bridge: values.bridge }),
  });
  for (const p of written) process.stdout.write(`installed ${p}\n`);
  return 0;
}
