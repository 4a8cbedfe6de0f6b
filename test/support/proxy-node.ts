/**
 * Runs a real ServiceProxy inside the namespace it is started in
 * (`ip netns exec NODE node proxy-node.ts OPTIONS_JSON`), as the agent
 * would, fed by JSON lines on stdin in place of informers:
 *
 *   {"op":"service","service":{…}}  {"op":"delete-service","namespace":…,"name":…}
 *   {"op":"slice","slice":{…}}      {"op":"delete-slice","namespace":…,"name":…}
 *   {"op":"synced"}                 both inputs have been listed
 *   {"op":"sync","id":N}            answers {"id":N,"last":…} after a sync that started after it
 *   {"op":"status","id":N}          answers {"id":N,"ports":[…],"health":[…],"last":…}
 *   {"op":"metrics","id":N}         answers {"id":N,"text":"…"}
 *
 * Log lines go to stderr. It exits when stdin closes, leaving the table
 * (as the agent does on stop).
 */
import { createInterface } from "node:readline";
import { createRunner } from "../../src/kernel/runner.ts";
import { ServiceProxy, type ServiceProxyOptions } from "../../src/proxy/proxy.ts";

const options = JSON.parse(process.argv[2] ?? "{}") as Omit<ServiceProxyOptions, "runner" | "log">;
const proxy = new ServiceProxy({ ...options, runner: createRunner(), log: (l) => process.stderr.write(`proxy: ${l}\n`) });
const reply = (o: unknown) => process.stdout.write(JSON.stringify(o) + "\n");

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const m = JSON.parse(line);
  switch (m.op) {
    case "service":
      proxy.upsertService(m.service);
      break;
    case "delete-service":
      proxy.deleteService(m.namespace, m.name);
      break;
    case "slice":
      proxy.upsertSlice(m.slice);
      break;
    case "delete-slice":
      proxy.deleteSlice(m.namespace, m.name);
      break;
    case "synced":
      proxy.markServicesSynced();
      proxy.markSlicesSynced();
      break;
    case "sync":
      void proxy.syncNow().then(() => reply({ id: m.id, last: proxy.lastSync() }));
      break;
    case "status":
      reply({ id: m.id, ports: proxy.servicePorts(), health: proxy.healthPorts(), last: proxy.lastSync(), synced: proxy.synced });
      break;
    case "metrics":
      reply({ id: m.id, text: proxy.metrics.render().text() });
      break;
    default:
      process.stderr.write(`proxy-node: unknown op ${m.op}\n`);
  }
}
await proxy.stop();
