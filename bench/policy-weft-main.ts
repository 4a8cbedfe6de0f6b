/**
 * weft's side of bench/policy-reference: the agent's policy component
 * (informers + controller, default options) for node n1, until SIGTERM.
 * scripts/bundle.ts bundles it into build/bench-policy-weft.mjs, and the
 * bench runs that with deploy/weft.yaml's NODE_OPTIONS, as the agent itself
 * runs (build/weft-agent.mjs): plain JavaScript, without the TypeScript
 * stripper and the bench's own modules, which a process started from the
 * .ts files carries (tens of MB the agent does not have).
 * Argument: the kubeconfig.
 */
import { createRunner } from "../src/kernel/runner.ts";
import { PolicyComponent } from "../src/policy/component.ts";

const kubeconfig = process.argv[2];
if (kubeconfig === undefined) {
  process.stderr.write("usage: bench-policy-weft.mjs KUBECONFIG\n");
  process.exit(2);
}
const c = await PolicyComponent.start({ nodeName: "n1", kubeconfig, runner: createRunner(), log: (l) => process.stderr.write(`weft policy: ${l}\n`) });
await new Promise<void>((resolve) => process.once("SIGTERM", () => resolve()));
await c.stop();
process.exit(0);
