/**
 * `weft dns [--config FILE] [--kubeconfig FILE]`: the cluster DNS server
 * (src/dns/), answering the cluster zone from the API's Services,
 * EndpointSlices and Namespaces and forwarding other names.
 */
import { readDnsConfig, parseDnsConfig } from "../../dns/config.ts";
import { startKubeSource } from "../../dns/kube-source.ts";
import { DnsServer } from "../../dns/server.ts";
import { parseCommandArgs } from "../args.ts";

const HELP = `usage: weft dns [--config FILE] [--kubeconfig FILE]   serve cluster DNS

  --config FILE      YAML or JSON options, or the weft-dns ConfigMap manifest (default: every default):
                       zone: cluster.local   ttl: 5   pods: off|insecure|verified
                       upstreams: [IP[:PORT]...] (default: /etc/resolv.conf's nameservers)
                       cacheSize: 10000   cacheMaxTtl: 3600   hosts: "IP NAME..." lines
                       listen: 0.0.0.0   port: 53   httpPort: 8080 (/health, /ready, /metrics)
  --kubeconfig FILE  the API server to watch (default: in-cluster, else $KUBECONFIG or ~/.kube/config)
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs("dns", argv, {
    config: { type: "string" },
    kubeconfig: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const config = values.config === undefined ? parseDnsConfig("", "the defaults") : readDnsConfig(values.config);
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const source = await startKubeSource({ kubeconfig: values.kubeconfig, pods: config.pods === "verified", log });
  const server = new DnsServer(config, source, { log });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    void Promise.all([server.close(), source.close()]).then(() => process.exit(0));
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  try {
    await server.start();
  } catch (err) {
    await source.close();
    throw err;
  }
  await new Promise<never>(() => {}); // runs until a signal stops it
  return 0;
}
