/**
 * Errors with a stable `code`, the input that caused them and what to do
 * next. Every layer throws these; the CNI plugin maps them to CNI error
 * objects and the CLI prints `message` as one line.
 */
export class WeftError extends Error {
  /** Stable machine-readable code, e.g. `SUBNET_EXHAUSTED`. */
  readonly code: string;
  /** What the user should do about it, printed after the message. */
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "WeftError";
    this.code = code;
    this.hint = options.hint;
  }

  /** The message and the hint as one line, for a CLI or a log. */
  describe(): string {
    return this.hint ? `${this.message}; ${this.hint}` : this.message;
  }
}

/** One line for any thrown value: a WeftError's description or an Error's message. */
export function describeError(err: unknown): string {
  if (err instanceof WeftError) return err.describe();
  if (err instanceof Error) return err.message;
  return String(err);
}
