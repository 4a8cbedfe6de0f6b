/**
 * Argument parsing for commands: node's parseArgs in strict mode, with its
 * errors turned into one-line WeftErrors that name the command.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { WeftError } from "../lib/errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parses `argv` for `command`; unknown flags and missing values are errors. */
export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (err) {
    throw new WeftError("USAGE", `${command}: ${(err as Error).message.split("\n")[0]}`, { hint: `run "weft ${command} --help"` });
  }
}
