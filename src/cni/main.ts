/**
 * The weft CNI plugin executable. A runtime runs it once per verb with the
 * CNI_* environment and the network configuration on stdin; it prints a
 * result or a CNI error object on stdout and exits.
 *
 * Start-up is most of an ADD's cost. The plugin is this bundle compiled to
 * QuickJS bytecode inside a small static executable (src/sys/qjs-host.c,
 * scripts/build.ts): it starts in about 1 ms of CPU, where the same code
 * compiled by Bun took 5-7 ms (bench/plugin-binary). Its only platform is
 * the host's libc calls (sys/qjs.ts), imported first because it puts the
 * globals the shared code uses (process.env, TextDecoder, …) in place; the
 * bundle must load no other module (the build checks it). It ends with
 * exitNow: no teardown.
 *
 * Nothing prints a stack here (a failure is a CNI error object with a
 * message), and an expected EEXIST is an Error on every ADD, so stacks
 * are off.
 */
import { exitNow, qjsSyscalls as libc } from "../sys/qjs.ts";
import { add } from "./add.ts";
import { check } from "./check.ts";
import { decodeStdin, parseConfig, requestedVersion } from "./config.ts";
import { Machine } from "./context.ts";
import { del } from "./del.ts";
import { readEnv } from "./env.ts";
import { CniError, ERR_INCOMPATIBLE_VERSION, toCniError } from "./errors.ts";
import { gc } from "./gc.ts";
import { encodeResult } from "./result.ts";
import { status } from "./status.ts";
import { atLeast, isSupported, LATEST_VERSION, SUPPORTED_VERSIONS, VERB_SINCE } from "./version.ts";
import { readAll, writeAll } from "../sys/files.ts";

function run(stdin: string): { out?: Record<string, unknown>; version: string } {
  const env = readEnv(process.env);
  if (env.command === "VERSION") {
    let asked: unknown;
    try {
      asked = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    } catch {
      asked = undefined;
    }
    const version = isSupported(asked) ? asked : LATEST_VERSION;
    return { out: { cniVersion: version, supportedVersions: SUPPORTED_VERSIONS }, version };
  }
  const raw = decodeStdin(stdin);
  const conf = parseConfig(raw);
  if (!atLeast(conf.cniVersion, VERB_SINCE[env.command]!)) {
    throw new CniError(ERR_INCOMPATIBLE_VERSION, `${env.command} is not part of CNI ${conf.cniVersion}; it needs cniVersion ${VERB_SINCE[env.command]} or later`);
  }
  const m = new Machine(libc);
  try {
    switch (env.command) {
      case "ADD":
        return { out: encodeResult(add(m, conf, env), conf.cniVersion), version: conf.cniVersion };
      case "DEL":
        del(m, conf, env);
        break;
      case "CHECK":
        check(m, conf, env);
        break;
      case "STATUS":
        status(m, conf);
        break;
      case "GC":
        gc(m, conf);
        break;
    }
    return { version: conf.cniVersion };
  } finally {
    m.close();
  }
}

Error.stackTraceLimit = 0;
let stdin = "";
let exitCode = 0;
try {
  stdin = readAll(libc, 0);
  const { out } = run(stdin);
  if (out) writeAll(libc, 1, JSON.stringify(out));
} catch (err) {
  const e = toCniError(err);
  let version: string = LATEST_VERSION;
  try {
    version = requestedVersion(JSON.parse(stdin)) ?? LATEST_VERSION;
  } catch {
    // stdin was not JSON: answer in the latest version
  }
  writeAll(libc, 1, JSON.stringify({ cniVersion: version, code: e.code, msg: e.message, ...(e.details ? { details: e.details } : {}) }));
  exitCode = 1;
}
exitNow(exitCode);
