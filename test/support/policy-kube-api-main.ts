/**
 * Runs a FakeKubeApi (fake-kube-api.ts) for network policy as its own
 * process, so a test can put it inside a node namespace beside the agent
 * (`ip netns exec NS node policy-kube-api-main.ts KUBECONFIG LISTS_JSON`):
 * it serves {"pods":[…],"namespaces":[…],"networkpolicies":[…]} as the API
 * server lists them, writes the kubeconfig, prints "ready" and runs until
 * stdin closes.
 */
import { FakeKubeApi } from "./fake-kube-api.ts";

export const PATHS = { pods: "/api/v1/pods", namespaces: "/api/v1/namespaces", networkpolicies: "/apis/networking.k8s.io/v1/networkpolicies" } as const;

const [kubeconfig, lists] = process.argv.slice(2);
const given = JSON.parse(lists ?? "{}") as Partial<Record<keyof typeof PATHS, object[]>>;
const api = new FakeKubeApi();
for (const [k, path] of Object.entries(PATHS)) api.lists.set(path, given[k as keyof typeof PATHS] ?? []);
await api.listen();
api.writeKubeconfig(kubeconfig!);
process.stdout.write("ready\n");
process.stdin.resume();
process.stdin.on("end", () => void api.close().then(() => process.exit(0)));
