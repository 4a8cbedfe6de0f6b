/**
 * Runs a real PolicyController (and, when asked, a real ServiceProxy) inside
 * the namespace it is started in (`ip netns exec NODE node policy-node.ts
 * OPTIONS_JSON`), as the agent would, fed by JSON lines on stdin in place of
 * informers:
 *
 *   {"op":"pod","pod":{…}}              {"op":"delete-pod","namespace":…,"name":…}
 *   {"op":"namespace","namespace":{…}}  {"op":"delete-namespace","name":…}
 *   {"op":"policy","policy":{…}}        {"op":"delete-policy","namespace":…,"name":…}
 *   {"op":"service","service":{…}}      {"op":"slice","slice":{…}}   (with the proxy)
 *   {"op":"synced"}                     every input has been listed
 *   {"op":"sync","id":N}                answers {"id":N,"last":…} after a sync that started after it
 *   {"op":"resync","id":N}              the same, rewriting the table whole
 *   {"op":"status","id":N}              answers {"id":N,"status":…}
 *   {"op":"metrics","id":N}             answers {"id":N,"text":"…"} (drop counters read first)
 *
 * OPTIONS_JSON: {"policy": PolicyControllerOptions without runner/log,
 * "proxy"?: ServiceProxyOptions without runner/log}. Logs go to stderr; it
 * exits when stdin closes, leaving its tables.
 */
import { createInterface } from "node:readline";
import { createRunner } from "../../src/kernel/runner.ts";
import { PolicyController, type PolicyControllerOptions } from "../../src/policy/controller.ts";
import { ServiceProxy, type ServiceProxyOptions } from "../../src/proxy/proxy.ts";

const options = JSON.parse(process.argv[2] ?? "{}") as { policy: Omit<PolicyControllerOptions, "runner" | "log">; proxy?: Omit<ServiceProxyOptions, "runner" | "log"> };
const runner = createRunner();
const policy = new PolicyController({ ...options.policy, runner, log: (l) => process.stderr.write(`policy: ${l}\n`) });
const proxy = options.proxy ? new ServiceProxy({ ...options.proxy, runner, log: (l) => process.stderr.write(`proxy: ${l}\n`) }) : undefined;
const reply = (o: unknown) => process.stdout.write(JSON.stringify(o) + "\n");

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const m = JSON.parse(line);
  switch (m.op) {
    case "pod":
      policy.upsertPod(m.pod);
      break;
    case "delete-pod":
      policy.deletePod(m.namespace, m.name);
      break;
    case "namespace":
      policy.upsertNamespace(m.namespace);
      break;
    case "delete-namespace":
      policy.deleteNamespace(m.name);
      break;
    case "policy":
      policy.upsertPolicy(m.policy);
      break;
    case "delete-policy":
      policy.deletePolicy(m.namespace, m.name);
      break;
    case "service":
      proxy?.upsertService(m.service);
      break;
    case "slice":
      proxy?.upsertSlice(m.slice);
      break;
    case "synced":
      policy.markPodsSynced();
      policy.markNamespacesSynced();
      policy.markPoliciesSynced();
      proxy?.markServicesSynced();
      proxy?.markSlicesSynced();
      break;
    case "sync":
      void Promise.all([policy.syncNow(), proxy?.syncNow()]).then(() => reply({ id: m.id, last: policy.lastSync() }));
      break;
    case "resync":
      void policy.resyncNow().then(() => reply({ id: m.id, last: policy.lastSync() }));
      break;
    case "status":
      reply({ id: m.id, status: policy.status() });
      break;
    case "metrics":
      void policy
        .readCounters()
        .catch((err) => process.stderr.write(`policy-node: counters: ${err}\n`))
        .then(() => reply({ id: m.id, text: policy.metrics.render().text() }));
      break;
    default:
      process.stderr.write(`policy-node: unknown op ${m.op}\n`);
  }
}
await policy.stop();
await proxy?.stop();
