/**
 * Deleting conntrack entries with the `conntrack` tool, a few processes at a
 * time, for the owners that must cut flows (the service proxy's stale UDP
 * flows, strict network policy's denied ones).
 */
import type { Runner } from "./runner.ts";

/** How many `conntrack -D` processes run at once. */
const PARALLEL = 4;

/**
 * Runs each `conntrack -D …` argv in the runner's namespace. Returns how
 * many entries went and the failures as messages; "0 flow entries" (a flow
 * already gone) is not one.
 */
export async function runConntrackDeletes(runner: Runner, argvs: readonly string[][]): Promise<{ deleted: number; errors: string[] }> {
  let deleted = 0;
  const errors: string[] = [];
  const queue = [...argvs];
  const worker = async () => {
    for (let argv = queue.shift(); argv; argv = queue.shift()) {
      const r = await runner.exec(argv);
      const m = /(\d+) flow entries have been deleted/.exec(r.stderr);
      if (m) deleted += Number(m[1]);
      else if (r.code !== 0) errors.push(`${argv.join(" ")}: ${r.stderr.trim() || `exit status ${r.code}`}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, worker));
  return { deleted, errors };
}
