/**
 * An in-memory Runner for unit tests: records every command and answers
 * with what `reply` returns (exit 0 and no output by default).
 */
import type { ExecResult, Runner } from "./runner.ts";

/** One recorded command. */
export interface FakeCall {
  argv: string[];
  input: string | undefined;
}

/** A Runner that runs nothing; `calls` lists what it was asked, in order. */
export class FakeRunner implements Runner {
  readonly netns: string | undefined = undefined;
  readonly calls: FakeCall[] = [];
  readonly #reply: (call: FakeCall) => Partial<ExecResult>;

  constructor(reply: (call: FakeCall) => Partial<ExecResult> = () => ({})) {
    this.#reply = reply;
  }

  exec(argv: readonly string[], input?: string): Promise<ExecResult> {
    const call = { argv: [...argv], input };
    this.calls.push(call);
    return Promise.resolve({ code: 0, stdout: "", stderr: "", ...this.#reply(call) });
  }
}
