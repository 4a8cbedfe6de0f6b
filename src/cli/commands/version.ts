/** `weft version` (also `weft --version`): weft's version, its build's commit and the Node.js it runs on. */
import { WeftError } from "../../lib/errors.ts";
import { parseCommandArgs } from "../args.ts";
import { VERSION, buildCommit, versionLine } from "../../lib/version.ts";

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs("version", argv, { output: { type: "string", short: "o", default: "table" } });
  if (values.output === "json") {
    process.stdout.write(JSON.stringify({ version: VERSION, commit: buildCommit(), node: process.versions.node }) + "\n");
  } else if (values.output === "table") {
    process.stdout.write(versionLine() + "\n");
  } else {
    throw new WeftError("USAGE", `version: unknown output format "${values.output}"`, { hint: "use -o table or -o json" });
  }
  return 0;
}
