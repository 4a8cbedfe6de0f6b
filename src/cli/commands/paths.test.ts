// One rule for every path a weft command is given: absolute, or a one-line
// PATH_NOT_ABSOLUTE naming the flag (issue 17, item 11). install-cni and
// the agent have their own tables (install-cni.test.ts, agent/config.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { WeftError } from "../../lib/errors.ts";
import { run as doctor } from "./doctor.ts";
import { run as status } from "./status.ts";

const refused: [string, (argv: string[]) => Promise<number>, string[], RegExp][] = [
  ["status --run-dir", status, ["--run-dir", "run/weft"], /^--run-dir must be an absolute path, got "run\/weft"$/],
  ["status --socket", status, ["--socket", "agent.sock"], /^--socket must be an absolute path, got "agent\.sock"$/],
  ["doctor --run-dir", doctor, ["--run-dir", "."], /^--run-dir must be an absolute path, got "\."$/],
  ["doctor --conf-dir", doctor, ["--conf-dir", "net.d"], /^--conf-dir must be an absolute path, got "net\.d"$/],
  ["doctor --bin-dir", doctor, ["--bin-dir", "../bin"], /^--bin-dir must be an absolute path, got "\.\.\/bin"$/],
];
for (const [what, command, argv, message] of refused) {
  test(`refused: a relative ${what}`, async () => {
    await assert.rejects(command(argv), (err: unknown) => {
      assert.ok(err instanceof WeftError);
      assert.equal(err.code, "PATH_NOT_ABSOLUTE");
      assert.match(err.message, message);
      return true;
    });
  });
}
