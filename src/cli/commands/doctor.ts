/**
 * `weft doctor [--lab NAME] [--run-dir DIR] [--conf-dir DIR] [--bin-dir DIR]
 * [-o table|json]`: checks a node (or every node of a lab) for what breaks pod
 * networking and says how to fix each thing it finds. Exit status 1 when a
 * check fails, 0 otherwise (warnings included).
 */
import { requireAbsolute } from "../../lib/dirs.ts";
import { WeftError } from "../../lib/errors.ts";
import { CHECKS, runDoctor } from "../../doctor/doctor.ts";
import { exitStatus, formatReport } from "../../doctor/report.ts";
import { readKubeFacts } from "../../doctor/kube-facts.ts";
import { labTargets, localTarget } from "../../doctor/targets.ts";
import { parseCommandArgs, parseOutput } from "../args.ts";

const HELP = `usage: weft doctor [--lab NAME] [--run-dir DIR] [--conf-dir DIR] [--bin-dir DIR] [--kubeconfig FILE] [-o table|json]

Checks this node (its network namespace, its agent and its CNI files), or with
--lab every node of a lab, and prints a table of findings, the fix for each
problem, and how many there are. Exit status 1 when a check fails.

  --lab NAME      check every node of lab NAME (weft lab up --name NAME)
  --run-dir DIR   the agent's run dir, holding agent.sock and subnet.env (default /run/weft)
  --conf-dir DIR  the CNI configuration dir (default /etc/cni/net.d)
  --bin-dir DIR   the CNI plugin dir (default /opt/cni/bin)
  --kubeconfig F  also read the cluster's Nodes (podCIDRs, weft.dev annotations, the
                  controller manager's CIDR allocation); default: the in-cluster
                  configuration in a pod, the lab's own with --lab
  -o table|json   print the findings as a table (default) or as JSON

checks: ${Object.keys(CHECKS).join(", ")}
`;

/** `weft doctor ...` */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs("doctor", argv, {
    lab: { type: "string" },
    "run-dir": { type: "string", default: "/run/weft" },
    "conf-dir": { type: "string", default: "/etc/cni/net.d" },
    "bin-dir": { type: "string", default: "/opt/cni/bin" },
    kubeconfig: { type: "string" },
    output: { type: "string", short: "o" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const output = parseOutput("doctor", values.output);
  if (values.lab !== undefined && argv.some((a) => /^--(run|conf|bin)-dir/.test(a))) {
    throw new WeftError("USAGE", "doctor: --lab takes each node's directories from the lab; drop --run-dir, --conf-dir and --bin-dir");
  }
  const kubeconfig = values.kubeconfig === undefined ? undefined : requireAbsolute(values.kubeconfig, "--kubeconfig");
  const fromClient = kubeconfig !== undefined
    ? async () => readKubeFacts((await import("../../kube/client.ts")).connectKube(kubeconfig))
    : process.env.KUBERNETES_SERVICE_HOST ? async () => readKubeFacts((await import("../../kube/client.ts")).connectInCluster()) : undefined;
  const { targets, lab, readCluster } = values.lab === undefined
    ? {
        targets: [localTarget({ runDir: requireAbsolute(values["run-dir"], "--run-dir"), confDir: requireAbsolute(values["conf-dir"], "--conf-dir"), binDir: requireAbsolute(values["bin-dir"], "--bin-dir") })],
        lab: null,
        readCluster: fromClient,
      }
    : labTargets(values.lab);
  const findings = await runDoctor(targets, lab, readCluster);
  process.stdout.write(output === "json" ? JSON.stringify(findings, null, 2) + "\n" : formatReport(findings));
  return exitStatus(findings);
}
