/**
 * `weft install-cni --bin-dir DIR [--conf-dir DIR] [--subnet-file F]
 * [--data-dir D] [--bridge NAME]`: installs the plugin executable as
 * DIR/weft and, with --conf-dir, writes 10-weft.conflist there — what the
 * DaemonSet's init container does on every node. Both are replaced
 * atomically, so a runtime never executes or reads half a file.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, writeFileSync, chmodSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseCommandArgs } from "../args.ts";
import { buildConflist, CONFLIST_NAME } from "../../cni/conflist.ts";
import { WeftError } from "../../lib/errors.ts";
import { ROOT } from "../../lib/root.ts";

/** The built plugin executable in this checkout. */
export const PLUGIN_EXECUTABLE = join(ROOT, "build/weft-cni");

const HELP = `usage: weft install-cni --bin-dir DIR [--conf-dir DIR] [--subnet-file FILE] [--data-dir DIR] [--bridge NAME]
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

/** Installs the executable (and optionally the conflist); returns the paths written. */
export function installCni(o: { binDir: string; confDir?: string; subnetFile?: string; dataDir?: string; bridge?: string }): string[] {
  if (!existsSync(PLUGIN_EXECUTABLE)) throw new WeftError("NOT_BUILT", `the plugin executable ${PLUGIN_EXECUTABLE} is not built`, { hint: "run scripts/setup.sh" });
  mkdirSync(o.binDir, { recursive: true });
  const bin = join(o.binDir, "weft");
  atomicWrite(bin, (tmp) => {
    copyFileSync(PLUGIN_EXECUTABLE, tmp);
    chmodSync(tmp, 0o755);
  });
  const written = [bin];
  if (o.confDir) {
    mkdirSync(o.confDir, { recursive: true });
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
  const abs = (p: string | undefined, flag: string) => {
    if (p !== undefined && !p.startsWith("/")) throw new WeftError("USAGE", `install-cni: ${flag} must be an absolute path, got "${p}"`);
    return p;
  };
  const written = installCni({
    binDir: resolve(values["bin-dir"]),
    confDir: values["conf-dir"] === undefined ? undefined : resolve(values["conf-dir"]),
    subnetFile: abs(values["subnet-file"], "--subnet-file"),
    dataDir: abs(values["data-dir"], "--data-dir"),
    bridge: values.bridge,
  });
  for (const p of written) process.stdout.write(`installed ${p}\n`);
  return 0;
}
