/**
 * The weft CNI plugin executable. A runtime runs it once per verb with the
 * CNI_* environment and the network configuration on stdin; it prints a
 * result or a CNI error object on stdout and exits.
 *
 * Start-up is most of an ADD's cost, so this file imports only what the
 * verbs need and ends with reallyExit: Bun's orderly teardown costs more
 * than the whole ADD (measured: 4.8 ms vs 11 ms for the process).
 */
import { readFileSync, writeSync } from "node:fs";
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
import { libc } from "../sys/libc.ts";

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

let stdin = "";
let exitCode = 0;
try {
  stdin = readFileSync(0, "utf8");
  const { out } = run(stdin);
  if (out) writeSync(1, JSON.stringify(out));
} catch (err) {
  const e = toCniError(err);
  let version: string = LATEST_VERSION;
  try {
    version = requestedVersion(JSON.parse(stdin)) ?? LATEST_VERSION;
  } catch {
    // stdin was not JSON: answer in the latest version
  }
  writeSync(1, JSON.stringify({ cniVersion: version, code: e.code, msg: e.message, ...(e.details ? { details: e.details } : {}) }));
  exitCode = 1;
}
(process as unknown as { reallyExit(code: number): never }).reallyExit(exitCode);
