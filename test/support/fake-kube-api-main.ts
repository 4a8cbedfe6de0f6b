/**
 * Runs FakeKubeApi (fake-kube-api.ts) as its own process, so tests can put
 * it inside a namespace (`ip netns exec NS node fake-kube-api-main.ts
 * KUBECONFIG LISTS_JSON`): it serves the lists given as
 * {"services":[…],"endpointslices":[…]}, writes the kubeconfig, prints
 * "ready" and runs until stdin closes.
 */
import { EPS_PATH, FakeKubeApi, SVC_PATH } from "./fake-kube-api.ts";

const [kubeconfig, lists] = process.argv.slice(2);
const { services, endpointslices } = JSON.parse(lists ?? "{}") as { services: object[]; endpointslices: object[] };
const api = new FakeKubeApi();
api.lists.set(SVC_PATH, services ?? []);
api.lists.set(EPS_PATH, endpointslices ?? []);
await api.listen();
api.writeKubeconfig(kubeconfig!);
process.stdout.write("ready\n");
process.stdin.resume();
process.stdin.on("end", () => void api.close().then(() => process.exit(0)));
