/**
 * The entry of the shipped agent, `build/weft-agent.mjs`: `weft agent` alone,
 * bundled into one JavaScript file by scripts/bundle.ts. It is what a
 * DaemonSet and the lab run: plain JavaScript, so Node.js does not load its
 * TypeScript stripper (about 40 MB of resident memory for the agent's ~40
 * modules) into a process that lives for months. Arguments are the agent's
 * flags, as for `weft agent`.
 */
import { run } from "./commands/agent.ts";
import { runEntry } from "./entry.ts";

await runEntry(run);
