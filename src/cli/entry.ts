/**
 * How every weft entry point ends: the exit status a command returned, or
 * one line on stderr for what it threw (never a stack trace; set
 * WEFT_DEBUG=1 to see the stack).
 */
import { describeError } from "../lib/errors.ts";

/** Runs `main` with the process's arguments and sets the exit status. */
export async function runEntry(main: (argv: string[]) => Promise<number>): Promise<void> {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`weft: ${describeError(err)}\n`);
    if (process.env.WEFT_DEBUG) process.stderr.write(`${(err as Error).stack ?? ""}\n`);
    process.exitCode = 1;
  }
}
