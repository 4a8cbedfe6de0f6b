/**
 * Argument parsing for commands: node's parseArgs in strict mode, with its
 * errors turned into one-line WeftErrors that name the command.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { WeftError } from "../lib/errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses `argv` for `command`; unknown flags and missing values are errors.
 * A negative number after a flag that takes a value is that value
 * (`--nodes -1`), so the command's own check can name the allowed range;
 * parseArgs alone calls it ambiguous.
 */
export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: joinNegativeValues(argv, options), options, strict: true, allowPositionals });
  } catch (err) {
    throw new WeftError("USAGE", `${command}: ${(err as Error).message.split("\n")[0]}`, { hint: `run "weft ${command} --help"` });
  }
}

/** The output formats every listing takes (`-o`). */
export type OutputFormat = "table" | "json";

/** Checks `-o`'s value for `command` (absent: table). */
export function parseOutput(command: string, value: string | undefined): OutputFormat {
  if (value === undefined || value === "table" || value === "json") return value ?? "table";
  throw new WeftError("USAGE", `${command}: unknown output format "${value}"`, { hint: "use -o table or -o json" });
}

/** `--flag -3` → `--flag=-3` for flags that take a string, up to a `--` that ends the flags. */
function joinNegativeValues(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") return [...out, ...argv.slice(i)];
    const next = argv[i + 1];
    const takesValue = arg.startsWith("--") && !arg.includes("=") && options[arg.slice(2)]?.type === "string";
    if (takesValue && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}
