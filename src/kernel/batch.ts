/**
 * Kernel changes as one `ip -batch` / `bridge -batch` process per change set
 * (STYLE rule 4), with per-command failures still attributable to the peer
 * or object that caused them.
 *
 * Why the replay: `-force` is meant to keep a batch going past a failed
 * line and name it ("Command failed -:N"), but iproute2 6.1 still aborts the
 * whole batch on some errors — a failed `neigh` change calls exit() — and
 * then names nothing. So when a batch exits non-zero, every command is run
 * again on its own. That is safe because what weft batches is idempotent
 * on replay: `replace`; `del` where "already gone" is success; `add` where
 * "File exists" is success, since the batch itself may have made it. It
 * costs extra processes only on the failure path.
 */
import { isAbsent, type Runner } from "./runner.ts";

/** One batch line, as argv without the tool name, e.g. `["route", "replace", …]`. */
export interface BatchCommand {
  readonly argv: readonly string[];
  /** Whom a failure is reported against, e.g. a peer's node name. */
  readonly tag: string;
}

/** A command the kernel refused, with the tool's message. */
export interface BatchFailure {
  readonly command: BatchCommand;
  readonly message: string;
}

/** The iproute2 tools that read `-batch -`. */
export type BatchTool = "ip" | "bridge";

/**
 * Applies `commands` in order as one `TOOL -force -batch -`. Resolves with
 * the commands that failed (empty when all applied); a removal of something
 * already gone is not a failure. Rejects only if the tool cannot be started.
 */
export async function applyBatch(runner: Runner, tool: BatchTool, commands: readonly BatchCommand[]): Promise<BatchFailure[]> {
  if (commands.length === 0) return [];
  const lines = commands.map((c) => batchLine(c.argv));
  const whole = await runner.exec([tool, "-force", "-batch", "-"], lines.join("\n") + "\n");
  if (whole.code === 0) return [];
  const failures: BatchFailure[] = [];
  for (const command of commands) {
    const r = await runner.exec([tool, ...command.argv]);
    if (r.code === 0 || doneAlready(command.argv, r.stderr)) continue;
    const message = r.stderr.trim().split("\n").join("; ") || `exit status ${r.code}`;
    failures.push({ command, message: `"${tool} ${command.argv.join(" ")}": ${message}` });
  }
  return failures;
}

/** True when a replayed command failed only because its work was already done. */
function doneAlready(argv: readonly string[], stderr: string): boolean {
  const verb = argv[1];
  if (verb === "del" || verb === "delete" || verb === "flush") return isAbsent(stderr);
  return verb === "add" && /File exists/.test(stderr);
}

/** Batch lines are split on whitespace by iproute2, so an argument must not contain any. */
function batchLine(argv: readonly string[]): string {
  for (const a of argv) {
    if (a === "" || /\s/.test(a)) throw new Error(`batch argument ${JSON.stringify(a)} in "${argv.join(" ")}" is empty or has whitespace`);
  }
  return argv.join(" ");
}
