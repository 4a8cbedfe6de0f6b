/**
 * bench/dns.ts's weft dns: the real server (src/dns/server.ts) on the
 * in-memory source holding bench/dns-cluster.ts's 1,000 Services, since a
 * benchmark has no API server. Usage: dns-server.ts PORT HTTP_PORT UPSTREAM.
 * Prints "ready" when it answers.
 */
import { parseDnsConfig } from "../src/dns/config.ts";
import { FakeSource } from "../src/dns/fake-source.ts";
import { DnsServer } from "../src/dns/server.ts";
import { benchSnapshot } from "./dns-cluster.ts";

const [port, httpPort, upstream] = process.argv.slice(2);
const config = parseDnsConfig(`listen: 127.0.0.1\nport: ${port}\nhttpPort: ${httpPort}\nupstreams: ["${upstream}"]\n`, "bench");
const server = new DnsServer(config, new FakeSource(benchSnapshot()), { log: () => {} });
await server.start();
process.stdout.write("ready\n");
process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
