/**
 * `weft demo` (what `npm run demo` runs): a guided tour of a real 3-node
 * Kubernetes cluster whose pod network is weft, replaying the guides'
 * transcripts. Each step prints the command a user would type and runs
 * exactly that command, so the output on screen is what they will see
 * themselves: bring up the lab (control plane, kubelets, weft applied as a
 * DaemonSet, cluster DNS), `kubectl get nodes`, weft's pods, a Deployment
 * and its Service, `kubectl exec … ping` across nodes with no NAT, the
 * Service by name through the cluster DNS, `dig @10.96.0.10`, the smoke
 * test, the agent's peers and one packet's path. The lab is left up for
 * exploring; `weft lab down --name demo` removes it.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { WeftError } from "../../lib/errors.ts";
import { labLayout } from "../../lab/layout.ts";
import { parseCommandArgs } from "../args.ts";
import { ROOT } from "../../lib/root.ts";
import { join } from "node:path";

const WEFT = join(ROOT, "bin/weft");

const HELP = `usage: weft demo [--name NAME (demo)] [--backend vxlan|host-gw (vxlan)]
  Brings up a 3-node Kubernetes lab called NAME (replacing an earlier one of
  that name) with weft as its network add-on, then runs a Deployment and a
  Service, pings and connects across nodes, resolves names through the cluster
  DNS, runs the smoke test and shows the agent's peers and a trace. The lab
  stays up afterwards so you can explore; weft lab down --name NAME removes it.
`;

interface PodView {
  name: string;
  node: string;
  ip: string;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs("demo", argv, {
    name: { type: "string", default: "demo" },
    backend: { type: "string", default: "vxlan" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (process.getuid?.() !== 0) throw new WeftError("NOT_ROOT", "demo: network namespaces need root", { hint: "run as root" });
  const name = values.name;
  const say = (text: string) => process.stdout.write(`${text}\n`);
  const show = (args: string[]) => say(`$ weft ${args.join(" ")}`);
  const runShown = (args: string[]): number => {
    show(args);
    return spawnSync(WEFT, args, { stdio: ["ignore", "inherit", "inherit"] }).status ?? 1;
  };
  const must = (args: string[]): void => {
    const code = runShown(args);
    if (code !== 0) throw new WeftError("DEMO_STEP_FAILED", `demo: "weft ${args.join(" ")}" exited ${code}`, { hint: `see the output above; weft doctor --lab ${name} may say why` });
  };
  const kubectl = (...args: string[]) => ["lab", "kubectl", "--name", name, "--", ...args];
  const title = (text: string) => say(`\n== ${text}`);
  const pods = (...selector: string[]): PodView[] => {
    const r = spawnSync(WEFT, kubectl("get", "pods", ...selector, "-o", "json"), { encoding: "utf8" });
    if (r.status !== 0) throw new WeftError("DEMO_STEP_FAILED", `demo: kubectl get pods failed: ${r.stderr.trim()}`);
    const items = (JSON.parse(r.stdout) as { items: { metadata: { name: string }; spec: { nodeName?: string }; status: { podIP?: string } }[] }).items;
    return items.map((p) => ({ name: p.metadata.name, node: p.spec.nodeName ?? "", ip: p.status.podIP ?? "" }));
  };

  say(`weft demo: a 3-node Kubernetes cluster built from network namespaces on this machine.
The control plane is the real kube-apiserver, controller manager and scheduler;
each node runs a lab kubelet. weft is installed as every network add-on is, with
kubectl apply: its DaemonSet puts the CNI plugin on each node and runs the agent.`);
  if (existsSync(labLayout(name).dir)) {
    spawnSync(WEFT, ["lab", "down", "--name", name], { stdio: "ignore" });
  }
  title("bring up the cluster: control plane at 192.168.125.100, a kubelet per node, kubectl apply -f deploy/weft.yaml, the cluster DNS");
  must(["lab", "up", "--name", name, "--nodes", "3", "--backend", values.backend]);
  title("the nodes: Ready, because weft's DaemonSet wrote its CNI configuration on each; every node's podCIDR is its pod subnet");
  must(kubectl("get", "nodes", "-o", "wide"));
  must(kubectl("get", "nodes", "-o", "custom-columns=NAME:.metadata.name,POD-CIDR:.spec.podCIDR"));
  title("weft's pods (host network, one per node) and the cluster DNS (pods with addresses from the pod network)");
  must(kubectl("get", "pods", "-n", "kube-system", "-o", "wide"));
  title("a Deployment of three web servers, a Service in front of them, and a client pod");
  must(kubectl("create", "deployment", "web", "--image=nginx", "--replicas=3", "--port=80"));
  must(kubectl("expose", "deployment", "web", "--port=80"));
  must(kubectl("run", "client", "--image=busybox", "--", "sleep", "3600"));
  must(kubectl("rollout", "status", "deployment/web", "--timeout=120s"));
  must(kubectl("wait", "--for=condition=Ready", "pod/client", "--timeout=120s"));
  must(kubectl("get", "pods", "-o", "wide"));

  const client = pods().find((p) => p.name === "client");
  const webs = pods("-l", "app=web");
  const far = webs.find((w) => w.node !== client?.node) ?? webs[0];
  if (!client || !far) throw new WeftError("DEMO_STEP_FAILED", "demo: the client or web pods are missing", { hint: `weft lab kubectl --name ${name} -- get pods -o wide` });
  title(`pod to pod across nodes: client (${client.node}) pings ${far.name} (${far.node}) at its pod IP`);
  must(kubectl("exec", "client", "--", "ping", "-c", "2", far.ip));
  title("no NAT between pods: the web server answers with the address it saw, the client's own pod IP");
  must(kubectl("exec", "client", "--", "wget", "-qO-", `http://${far.ip}`));
  title("the Service by its name: the pod's resolv.conf searches default.svc.cluster.local, the cluster DNS answers, weft's proxy picks a backend");
  must(kubectl("exec", "client", "--", "cat", "/etc/resolv.conf"));
  must(kubectl("exec", "client", "--", "wget", "-qO-", "http://web"));
  title("the cluster DNS from a node, as the guides' smoke test asks it");
  must(["lab", "exec", "node1", "--name", name, "--", "dig", "@10.96.0.10", "web.default.svc.cluster.local", "+short"]);
  must(["lab", "exec", "node1", "--name", name, "--", "dig", "@10.96.0.10", "-t", "SRV", "_dns._udp.kube-dns.kube-system.svc.cluster.local", "+noall", "+answer", "+additional"]);

  title("smoke test: same node, across nodes, node<->pod, no NAT between pods, masquerade to the outside, an agent pod deleted and replaced");
  const smoke = runShown(["lab", "smoke", "--name", name]);
  const agent = pods("-n", "kube-system", "-l", "app=weft").find((p) => p.node === "node1");
  if (agent) {
    title("what node1's agent knows about its peers, asked inside its pod");
    must(kubectl("exec", "-n", "kube-system", agent.name, "-c", "weft", "--", "weft", "status", "peers"));
  }
  title(`the path a packet takes from pod client (${client.node}) to pod ${far.name} (${far.node}), read from kernel state`);
  const trace = runShown(["trace", "client", far.name, "--lab", name]);

  const next: [string, string][] = [
    [`weft lab kubectl --name ${name} -- logs -n kube-system -l app=weft --tail 5`, "which interface and address each agent chose, and why"],
    [`weft lab kubectl --name ${name} -- scale deployment web --replicas 6`, "more pods, each with an address of its node's podCIDR"],
    [`weft status services --lab ${name}`, "each Service port and its endpoints, as the proxy programmed them"],
    [`weft doctor --lab ${name}`, "checks forwarding, routes, MTU, the CNI files, the agents, the API"],
    ["weft lab up --name broken --nodes 2 --scenario wrong-iface", "the classic: every node advertises 10.0.2.15"],
    ["weft doctor --lab broken", "names the cause and the fix"],
    [`weft lab down --name ${name}`, "removes everything the demo made"],
  ];
  say(`\n== what to try next\n${next.map(([cmd, why]) => `  # ${why}\n  ${cmd}`).join("\n")}`);
  return smoke === 0 && trace === 0 ? 0 : 1;
}
