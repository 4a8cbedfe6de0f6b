/**
 * `npm run bench [-- NAME…]`: every benchmark, or only the named ones, each
 * printing its figures and its ratio to the reference or target. Each file
 * also runs alone: `sh scripts/node.sh bench/NAME.ts`.
 */
import { benchAgentConvergence } from "./agent-convergence.ts";
import { benchAgentRss } from "./agent-rss.ts";
import { benchCniAdd } from "./cni-add.ts";
import { benchDns } from "./dns.ts";
import { benchDnsLocal } from "./dns-local.ts";
import { benchDnsWire } from "./dns-wire.ts";
import { benchFlannel } from "./flannel.ts";
import { benchIpamStore } from "./ipam-store.ts";
import { benchKubeProxy } from "./kube-proxy.ts";
import { benchLabSpeed } from "./lab-speed.ts";
import { benchPluginBinary } from "./plugin-binary.ts";
import { benchPodStartup } from "./pod-startup.ts";
import { benchPolicy } from "./policy.ts";
import { benchPolicyReference } from "./policy-reference.ts";
import { benchProxySync } from "./proxy-sync.ts";
import { benchThroughput } from "./throughput.ts";

/** Every benchmark by name, in the order `npm run bench` runs them. */
const BENCHES: Record<string, () => Promise<void>> = {
  "plugin-binary": benchPluginBinary,
  "cni-add": benchCniAdd,
  "ipam-store": benchIpamStore,
  "lab-speed": benchLabSpeed,
  "pod-startup": benchPodStartup,
  "agent-rss": benchAgentRss,
  throughput: benchThroughput,
  "agent-convergence": benchAgentConvergence,
  "proxy-sync": benchProxySync,
  "kube-proxy": benchKubeProxy,
  "dns-wire": benchDnsWire,
  "dns-local": benchDnsLocal,
  dns: benchDns,
  policy: benchPolicy,
  "policy-reference": benchPolicyReference,
  flannel: benchFlannel,
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((n) => !(n in BENCHES));
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown benchmark ${unknown.join(", ")}; choose from ${Object.keys(BENCHES).join(", ")}\n`);
  process.exit(2);
}
for (const [name, run] of Object.entries(BENCHES)) {
  if (wanted.length === 0 || wanted.includes(name)) await run();
}
