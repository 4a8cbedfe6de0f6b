/**
 * The entry of the lab kubelet as the lab runs it, `build/weft-kubelet.mjs`:
 * `weft lab kubelet` alone, bundled into one JavaScript file by
 * scripts/bundle.ts so each node's long-lived kubelet does not carry
 * Node.js's TypeScript stripper (see agent-main.ts).
 */
import { run } from "./commands/lab-kubelet.ts";
import { runEntry } from "./entry.ts";

await runEntry(run);
