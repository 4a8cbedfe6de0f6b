/**
 * `weft agent [--config FILE] [flags]`: the per-node daemon (agent/agent.ts),
 * or with `--cleanup`, the removal of everything it made (agent/cleanup.ts).
 * Flags are the config keys in kebab-case and win over the file.
 */
import { Agent } from "../../agent/agent.ts";
import { cleanupAgent } from "../../agent/cleanup.ts";
import {
  AGENT_CONFIG_INVALID, CONFIG_KEYS, defaultConfig, flagOf, parseFlagValue, readConfigFile, validateConfig, type AgentConfig,
} from "../../agent/config.ts";
import { WeftError } from "../../lib/errors.ts";
import { parseCommandArgs } from "../args.ts";

const HELP = `usage: weft agent [--config FILE] [OPTIONS]   run the node agent
       weft agent --cleanup [OPTIONS]             remove what the agent made on this node

Every option may also be given in the JSON config file, in camelCase
(--pod-cidr → "podCidr"); flags win over the file.

  --node-name NAME          this node's name, unique in the cluster (default: the hostname)
  --pod-cidr CIDR           the cluster CIDR node subnets come from (default 10.244.0.0/16)
  --subnet-len N            prefix length of a node subnet (default 24)
  --subnet-min IP           lowest node subnet that may be leased (default: the first)
  --subnet-max IP           highest node subnet that may be leased (default: the last)
  --backend NAME            vxlan or host-gw (default vxlan)
  --vxlan-vni N             VXLAN network identifier; device weft.N (default 1)
  --vxlan-port PORT         VXLAN UDP port (default 8472)
  --mtu N                   pod MTU, at most underlay MTU minus the backend's overhead (default: that)
  --iface NAME|IP           underlay interface or one of its addresses; repeatable, first match wins
  --iface-regex RE          choose the underlay by a regular expression over names and addresses; repeatable
  --iface-can-reach IP      choose the interface the kernel uses to reach IP
  --public-ip IP            the address to advertise (default: the chosen interface's)
  --ip-masq / --no-ip-masq  masquerade pod traffic leaving the cluster CIDR (default on)
  --service-proxy           run the service proxy: Services and EndpointSlices to table ip weft-proxy (default off)
  --service-cidr CIDR       the service CIDR; its unallocated addresses are dropped (default 10.96.0.0/12)
  --network-policy / --no-network-policy
                            enforce NetworkPolicy in table inet weft-policy (default on where the agent has a
                            Kubernetes API: the kubernetes store or --kubeconfig)
  --strict-policy           cut established connections a policy starts denying (default: they continue)
  --store NAME              kubernetes, embedded or etcd (default kubernetes in a pod or with --kubeconfig, else embedded)
  --kubeconfig FILE         kubernetes: the kubeconfig (default: the pod's in-cluster configuration)
  --store-dir DIR           embedded: the directory every agent of the machine shares (default /var/lib/weft/store)
  --etcd-endpoints URLS     etcd: comma-separated client URLs (default http://127.0.0.1:2379)
  --etcd-prefix PREFIX      etcd: key prefix (default /weft/subnets/)
  --etcd-ca-file FILE       etcd: CA certificate (PEM)
  --etcd-cert-file FILE     etcd: client certificate (PEM), with --etcd-key-file
  --etcd-key-file FILE      etcd: client key (PEM)
  --run-dir DIR             subnet.env and agent.sock (default /run/weft)
  --state-dir DIR           persistent state; the CNI plugin's IPAM is DIR/ipam (default /var/lib/weft)
  --lease-ttl SECONDS       subnet lease time to live (default 86400)
  --resync-interval SECONDS how often drifted kernel state is repaired (default 5)
  --api-port PORT           also serve the API on 127.0.0.1:PORT (default: the unix socket only)
  --config FILE             read options from a JSON file
  --cleanup                 remove the backend device and routes, the nftables table, the subnet file, and release the lease
`;

/** Keys set by switches rather than valued flags. */
const BOOLEAN_FLAGS = new Set<keyof AgentConfig>(["ipMasq", "serviceProxy", "networkPolicy", "strictPolicy"]);

/** Flag name → config key, for every key (booleans handled apart). */
const FLAG_KEYS = Object.fromEntries(
  (Object.keys(CONFIG_KEYS) as (keyof AgentConfig)[]).filter((k) => !BOOLEAN_FLAGS.has(k)).map((k) => [flagOf(k).slice(2), k]),
) as Record<string, keyof AgentConfig>;

/** Builds the config from the defaults, the file and the flags. */
export function configFromArgs(argv: string[]): { config: AgentConfig; cleanup: boolean; help: boolean } {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    config: { type: "string" },
    cleanup: { type: "boolean" },
    help: { type: "boolean" },
    "ip-masq": { type: "boolean" },
    "no-ip-masq": { type: "boolean" },
    "service-proxy": { type: "boolean" },
    "network-policy": { type: "boolean" },
    "no-network-policy": { type: "boolean" },
    "strict-policy": { type: "boolean" },
  };
  for (const [flag, key] of Object.entries(FLAG_KEYS)) {
    options[flag] = CONFIG_KEYS[key] === "strings" ? { type: "string", multiple: true } : { type: "string" };
  }
  const { values } = parseCommandArgs("agent", argv, options);
  const v = values as Record<string, string | string[] | boolean | undefined>;
  if (v.help === true) return { config: defaultConfig(), cleanup: false, help: true };
  const config: Record<string, unknown> = { ...defaultConfig() };
  if (typeof v.config === "string") Object.assign(config, readConfigFile(v.config));
  for (const [flag, key] of Object.entries(FLAG_KEYS)) {
    const given = v[flag];
    if (given === undefined) continue;
    if (Array.isArray(given)) {
      // Repeatable, and comma-separated lists are accepted too: --etcd-endpoints a,b
      config[key] = given.flatMap((g) => g.split(",")).filter((s) => s !== "");
    } else {
      config[key] = parseFlagValue(key, given as string);
    }
  }
  if (v["ip-masq"] && v["no-ip-masq"]) throw new WeftError(AGENT_CONFIG_INVALID, "--ip-masq and --no-ip-masq contradict each other");
  // In a pod (KUBERNETES_SERVICE_HOST) or given a kubeconfig, the cluster is the store unless one is named.
  const storeNamed = v.store !== undefined || (typeof v.config === "string" && Object.hasOwn(readConfigFile(v.config), "store"));
  if (!storeNamed && (config.kubeconfig !== undefined || process.env.KUBERNETES_SERVICE_HOST)) config.store = "kubernetes";
  if (v["ip-masq"]) config.ipMasq = true;
  if (v["no-ip-masq"]) config.ipMasq = false;
  if (v["service-proxy"]) config.serviceProxy = true;
  if (v["network-policy"] && v["no-network-policy"]) throw new WeftError(AGENT_CONFIG_INVALID, "--network-policy and --no-network-policy contradict each other");
  if (v["network-policy"]) config.networkPolicy = true;
  if (v["no-network-policy"]) config.networkPolicy = false;
  if (v["strict-policy"]) config.strictPolicy = true;
  return { config: validateConfig(config as unknown as AgentConfig), cleanup: v.cleanup === true, help: false };
}

export async function run(argv: string[]): Promise<number> {
  const { config, cleanup, help } = configFromArgs(argv);
  if (help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (cleanup) {
    for (const line of await cleanupAgent(config)) process.stdout.write(`${line}\n`);
    return 0;
  }
  const agent = new Agent(config);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${new Date().toISOString()} ${signal}: stopping; the data plane, subnet file and lease stay for the next start\n`);
    void agent.stop().then(() => process.exit(0));
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  try {
    await agent.start();
  } catch (err) {
    if (stopping) return 0;
    await agent.stop();
    throw err;
  }
  await new Promise<never>(() => {}); // runs until a signal stops it
  return 0;
}
