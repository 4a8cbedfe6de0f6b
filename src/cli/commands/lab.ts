/**
 * `weft lab VERB`: a whole cluster in network namespaces on one machine, its
 * Kubernetes control plane included (see src/lab/layout.ts for what a lab is
 * made of). Every verb takes
 * `--name NAME` (default "lab") so several labs can be up at once.
 */
import { WeftError } from "../../lib/errors.ts";
import { parseCommandArgs, parseOutput } from "../args.ts";
import { superviseLab } from "../../lab/daemons.ts";
import { labDown } from "../../lab/down.ts";
import { adminKubeconfig, runKubectl } from "../../lab/control/kubectl.ts";
import { execArgs, LAB_RUN_IMAGE, labKubectl, listApiPods, removeApiPod, runApiPod } from "../../lab/kube-pods.ts";
import { NODE_CIDR_LEN } from "../../lab/daemons.ts";
import { CONTROL_IP, DEFAULT_LAB_NAME, labLayout, MAX_NODES, validateLabName } from "../../lab/layout.ts";
import { execIn, listPods, parsePortMapping, removePod, runPod } from "../../lab/runtime.ts";
import { SCENARIOS } from "../../lab/scenarios.ts";
import { formatSmoke } from "../../lab/smoke/report.ts";
import { runSmoke } from "../../lab/smoke/smoke.ts";
import { BACKENDS, readLabState, STORES, type Backend, type Store } from "../../lab/state.ts";
import { formatTable } from "../../lab/table.ts";
import { DEFAULT_POD_CIDR, labUp } from "../../lab/up.ts";

const USAGE = `usage: weft lab VERB [--name NAME (default ${DEFAULT_LAB_NAME})] ...

  up    [--nodes N (3)] [--backend vxlan|host-gw (vxlan)] [--store embedded|etcd (embedded)]
        [--pod-cidr CIDR (${DEFAULT_POD_CIDR})] [--iface IFACE] [--scenario NAME] [--addon weft|none (weft)]
        [--no-kubernetes]
                      build the switch, N nodes, the outside host (192.168.125.1, TCP 8080
                      answers with your source address), the Kubernetes control plane at
                      ${CONTROL_IP} (etcd, kube-apiserver on 6443, kube-controller-manager
                      giving each node a /${NODE_CIDR_LEN} of the pod CIDR, kube-scheduler) and one lab
                      kubelet per node, then kubectl apply deploy/weft.yaml, whose DaemonSet
                      installs the CNI plugin and runs an agent on every node, and wait until
                      every Node is Ready; --addon none applies nothing (the nodes stay
                      NotReady until you apply an add-on); --no-kubernetes leaves the control
                      plane and the kubelets out and runs one agent per node itself (--store);
                      --iface is given to every agent (default: none, each agent picks
                      its Node's InternalIP, or its default route's interface); a scenario may
                      set the pod CIDR
  down                stop everything the lab started and delete its namespaces and files
  kubeconfig          print the path of the lab's admin kubeconfig (its server, ${CONTROL_IP},
                      is reachable from the lab's namespaces, e.g. ip netns exec NAME-control)
  kubectl -- ARGS...  run the pinned kubectl with the admin kubeconfig in the control plane's
                      namespace; exits with kubectl's status
  run POD --node NODE [--namespace NS (default)] [--labels k=v,...] [--port HOST:CONTAINER[/tcp|udp]]... -- CMD...
                      create a pod through the node's CNI configuration and run CMD in it
                      (with Kubernetes: a Pod bound to NODE, image ${LAB_RUN_IMAGE}, which its
                      lab kubelet runs; the pod's name may then be reused in other namespaces)
  exec [NS/]NAME -- CMD...
                      run CMD in the foreground in pod or node NAME (or "outside"); with
                      Kubernetes a pod is kubectl exec's (any pod, Deployments' too)
  rm [NS/]POD         CNI DEL, stop the pod's processes, delete its namespace (with
                      Kubernetes: delete the Pod and wait until its kubelet removed it)
  pods [-o table|json] list pods: NAME NAMESPACE NODE IP STATUS (with Kubernetes: every Pod)
  smoke [-o table|json]     make pods smoke-a, smoke-b (node1) and smoke-c (node2), check ping, TCP, no NAT,
                      masquerade, Services (with Kubernetes: a ClusterIP, a NodePort from the outside
                      host, a Service without endpoints refused) and an agent restart (with Kubernetes:
                      its weft pod deleted and replaced), remove them; exit 1 when a check fails

scenarios:
${Object.entries(SCENARIOS).map(([name, s]) => `  ${name}: ${s.summary}`).join("\n")}

WEFT_LAB_AGENT_CMD=SHELL-COMMAND replaces each node's agent (for tests): it runs with sh -c in the
node's namespace, with the agent's argv as "$@" and WEFT_NODE_NAME, WEFT_NODE_INDEX, WEFT_RUN_DIR set,
and must write $WEFT_RUN_DIR/subnet.env for its node to be ready.
`;

const NAME = { name: { type: "string", default: DEFAULT_LAB_NAME } } as const;

type Verb = (argv: string[]) => Promise<number>;

const VERBS: Record<string, Verb> = {
  async up(argv) {
    const { values } = parseCommandArgs("lab up", argv, {
      ...NAME,
      nodes: { type: "string", default: "3" },
      backend: { type: "string", default: "vxlan" },
      store: { type: "string", default: "embedded" },
      "pod-cidr": { type: "string" },
      iface: { type: "string" },
      scenario: { type: "string" },
      "no-kubernetes": { type: "boolean", default: false },
      addon: { type: "string", default: "weft" },
    });
    const name = validateLabName(values.name);
    const addon = oneOf("--addon", values.addon, ["weft", "none"]) as "weft" | "none";
    if (values["no-kubernetes"] && argv.some((a) => a.startsWith("--addon"))) {
      throw new WeftError("USAGE", "lab up: --addon chooses what is applied to the cluster; with --no-kubernetes there is none", { hint: "drop --addon, or --no-kubernetes" });
    }
    if (!/^-?\d+$/.test(values.nodes)) throw new WeftError("USAGE", `invalid --nodes "${values.nodes}": a lab has 1 to ${MAX_NODES} nodes`, { hint: "give a number of nodes, e.g. --nodes 3" });
    const rows = await labUp(
      {
        name,
        nodes: Number(values.nodes),
        backend: oneOf("--backend", values.backend, BACKENDS) as Backend,
        store: oneOf("--store", values.store, STORES) as Store,
        podCidr: values["pod-cidr"] ?? null,
        iface: values.iface ?? null,
        scenario: values.scenario ?? null,
        kubernetes: !values["no-kubernetes"],
        addon,
      },
      (line) => process.stdout.write(`lab ${name}: ${line}\n`),
    );
    process.stdout.write(
      "\n" +
        formatTable(
          ["NAME", "UNDERLAY IP", "SUBNET", "BACKEND", "READY"],
          rows.map((r) => [r.name, r.underlayIp, r.subnet ?? "<none>", r.backend, r.ready ? "yes" : "no"]),
        ),
    );
    return 0;
  },

  async down(argv) {
    const { values } = parseCommandArgs("lab down", argv, NAME);
    const started = Date.now();
    const removed = await labDown(values.name, (line) => process.stderr.write(`${line}\n`));
    process.stdout.write(
      removed ? `lab ${values.name}: down in ${((Date.now() - started) / 1000).toFixed(1)} s\n` : `lab ${values.name} is not up; nothing to do\n`,
    );
    return 0;
  },

  async kubeconfig(argv) {
    const { values } = parseCommandArgs("lab kubeconfig", argv, NAME);
    const lab = labLayout(validateLabName(values.name));
    process.stdout.write(`${adminKubeconfig(lab, readLabState(lab))}\n`);
    return 0;
  },

  async kubectl(argv) {
    const [flags, args] = splitCommand("lab kubectl", argv);
    const { values } = parseCommandArgs("lab kubectl", flags, NAME);
    const lab = labLayout(validateLabName(values.name));
    return runKubectl(lab, readLabState(lab), args);
  },

  async run(argv) {
    const [flags, command] = splitCommand("lab run", argv);
    const { values, positionals } = parseCommandArgs(
      "lab run",
      flags,
      {
        ...NAME,
        node: { type: "string" },
        namespace: { type: "string", default: "default" },
        labels: { type: "string", default: "" },
        port: { type: "string", multiple: true, default: [] },
      },
      true,
    );
    const pod = onePositional("lab run", positionals, "POD");
    if (!values.node) throw new WeftError("USAGE", "lab run: --node NODE is required");
    const lab = labLayout(validateLabName(values.name));
    const state = readLabState(lab);
    const spec = { name: pod, node: values.node, namespace: values.namespace, labels: parseLabels(values.labels), ports: values.port.map(parsePortMapping), command };
    if (state.kubernetes) {
      // A Pod object bound to the node; its lab kubelet runs it.
      const { ip } = await runApiPod(labKubectl(lab, state), state, spec);
      process.stdout.write(`pod/${pod} created on ${values.node} with IP ${ip ?? "<none>"}\n`);
      return 0;
    }
    const record = await runPod(lab, state, spec);
    process.stdout.write(`pod/${record.name} created on ${record.node} with IP ${record.ip ?? "<none>"}\n`);
    return 0;
  },

  async exec(argv) {
    const [flags, command] = splitCommand("lab exec", argv);
    const { values, positionals } = parseCommandArgs("lab exec", flags, NAME, true);
    const target = onePositional("lab exec", positionals, "NAME");
    const lab = labLayout(validateLabName(values.name));
    const state = readLabState(lab);
    // Nodes and the outside host are namespaces; in a lab with Kubernetes a pod is kubectl exec's, so every pod works.
    if (state.kubernetes && target !== "outside" && !state.nodes.some((n) => n.name === target)) {
      return runKubectl(lab, state, execArgs(target, command, process.stdin.isTTY === true && process.stdout.isTTY === true));
    }
    return execIn(lab, state, target, command);
  },

  async rm(argv) {
    const { values, positionals } = parseCommandArgs("lab rm", argv, NAME, true);
    const pod = onePositional("lab rm", positionals, "POD");
    const lab = labLayout(validateLabName(values.name));
    const state = readLabState(lab);
    const { removed } = state.kubernetes ? await removeApiPod(labKubectl(lab, state), pod) : await removePod(lab, pod);
    process.stdout.write(removed ? `pod/${pod} deleted\n` : `pod/${pod} not found; nothing to delete\n`);
    return 0;
  },

  async pods(argv) {
    const { values } = parseCommandArgs("lab pods", argv, { ...NAME, output: { type: "string", short: "o" } });
    const output = parseOutput("lab pods", values.output);
    const lab = labLayout(validateLabName(values.name));
    const state = readLabState(lab);
    const pods = state.kubernetes ? await listApiPods(labKubectl(lab, state)) : listPods(lab);
    if (output === "json") {
      process.stdout.write(JSON.stringify(pods, null, 2) + "\n");
    } else if (pods.length === 0) {
      process.stdout.write(`No pods in lab ${lab.name}.\n`);
    } else {
      process.stdout.write(formatTable(["NAME", "NAMESPACE", "NODE", "IP", "STATUS"], pods.map((p) => [p.name, p.namespace, p.node, p.ip ?? "<none>", p.status])));
    }
    return 0;
  },

  async smoke(argv) {
    const { values } = parseCommandArgs("lab smoke", argv, { ...NAME, output: { type: "string", short: "o" } });
    const output = parseOutput("lab smoke", values.output);
    const report = await runSmoke(labLayout(validateLabName(values.name)));
    process.stdout.write(output === "json" ? JSON.stringify(report, null, 2) + "\n" : formatSmoke(report));
    return report.passed ? 0 : 1;
  },

  // Hidden: a node's lab kubelet, which the supervisor runs in the node's namespace.
  async kubelet(argv) {
    return (await import("./lab-kubelet.ts")).run(argv);
  },

  // Hidden: the detached supervisor `up` starts and `down` stops.
  async supervise(argv) {
    const { values } = parseCommandArgs("lab supervise", argv, NAME);
    return superviseLab(labLayout(validateLabName(values.name)));
  },
};

/** `weft lab VERB ...` */
export async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === "help" || verb === "--help" || verb === "-h") {
    process.stdout.write(USAGE);
    return verb === undefined ? 2 : 0;
  }
  const handler = VERBS[verb];
  if (!handler) throw new WeftError("USAGE", `lab: unknown verb "${verb}"`, { hint: 'run "weft lab help"' });
  if (rest.includes("--help") && !rest.slice(0, rest.indexOf("--help")).includes("--")) {
    process.stdout.write(USAGE);
    return 0;
  }
  return handler(rest);
}

/** Splits `ARGS -- CMD...`; CMD must not be empty. */
function splitCommand(command: string, argv: string[]): [string[], string[]] {
  const i = argv.indexOf("--");
  if (i < 0 || i === argv.length - 1) throw new WeftError("USAGE", `${command}: missing "-- CMD..."`, { hint: 'run "weft lab help"' });
  return [argv.slice(0, i), argv.slice(i + 1)];
}

function onePositional(command: string, positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new WeftError("USAGE", `${command}: expected one ${what}, got ${positionals.length === 0 ? "none" : positionals.join(" ")}`);
  return positionals[0]!;
}

function oneOf(flag: string, value: string, allowed: readonly string[]): string {
  if (!allowed.includes(value)) throw new WeftError("USAGE", `invalid ${flag} "${value}"`, { hint: `use one of ${allowed.join(", ")}` });
  return value;
}

/** Parses `k=v,k2=v2` (empty: no labels). */
function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(",").filter((p) => p !== "")) {
    const eq = pair.indexOf("=");
    if (eq < 1) throw new WeftError("USAGE", `invalid label "${pair}" in --labels`, { hint: "use k=v,k2=v2" });
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return labels;
}
