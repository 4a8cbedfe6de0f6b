/**
 * `weft demo` (what `npm run demo` runs): a guided tour on a real 3-node lab.
 * Each step prints the weft command a user would type and runs exactly that
 * command, so the output on screen is what they will see themselves:
 * bring up the lab, start pods on three nodes, run the smoke test, show the
 * peers and one packet's path, then say what to try next. The lab is left
 * up for that; `weft lab down --name demo` removes it.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { WeftError } from "../../lib/errors.ts";
import { labLayout } from "../../lab/layout.ts";
import { parseCommandArgs } from "../args.ts";
import { ROOT } from "../../lib/root.ts";

const WEFT = join(ROOT, "bin/weft");
const ECHO = join(ROOT, "src/lab/echo-source.ts");

const HELP = `usage: weft demo [--name NAME (demo)] [--backend vxlan|host-gw (vxlan)]
  Brings up a 3-node lab called NAME (replacing an earlier one of that name),
  starts pods, runs the smoke test and shows status and a trace. The lab stays
  up afterwards so you can explore; weft lab down --name NAME removes it.
`;

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
  const step = (title: string, args: string[], shown = args): number => {
    say(`\n== ${title}\n$ weft ${shown.join(" ")}`);
    const r = spawnSync(WEFT, args, { stdio: ["ignore", "inherit", "inherit"] });
    return r.status ?? 1;
  };
  const mustStep = (title: string, args: string[], shown = args): void => {
    const code = step(title, args, shown);
    if (code !== 0) throw new WeftError("DEMO_STEP_FAILED", `demo: "weft ${shown.join(" ")}" exited ${code}`, { hint: `see the output above; weft doctor --lab ${name} may say why` });
  };

  say(`weft demo: a 3-node Kubernetes pod network built from network namespaces on this machine.
Every node runs the real weft agent; every pod gets its interface from the real
weft CNI executable, called the way a container runtime calls it.`);
  if (existsSync(labLayout(name).dir)) {
    spawnSync(WEFT, ["lab", "down", "--name", name], { stdio: "ignore" });
  }
  mustStep("bring up 3 nodes, a switch and an outside host; one agent per node", ["lab", "up", "--no-kubernetes", "--name", name, "--nodes", "3", "--backend", values.backend]);
  const echo = ["--", process.execPath, ECHO, "--port", "8080"];
  const echoShown = ["--", "node", "echo-source.ts", "--port", "8080"];
  mustStep("start a server pod on node1 (it answers TCP 8080 with the address it sees)", ["lab", "run", "web", "--node", "node1", "--name", name, ...echo], ["lab", "run", "web", "--node", "node1", "--name", name, ...echoShown]);
  mustStep("and one on node2", ["lab", "run", "api", "--node", "node2", "--name", name, ...echo], ["lab", "run", "api", "--node", "node2", "--name", name, ...echoShown]);
  mustStep("and a client pod on node3", ["lab", "run", "client", "--node", "node3", "--name", name, "--", "sleep", "infinity"]);
  mustStep("list them, like kubectl get pods -o wide", ["lab", "pods", "--name", name]);
  const smoke = step("smoke test: same node, across nodes, node<->pod, no NAT between pods, masquerade to the outside, an agent restart", ["lab", "smoke", "--name", name]);
  mustStep("what node1's agent knows about its peers", ["status", "peers", "--run-dir", join(labLayout(name).dir, "node1", "run")], ["status", "peers", "--run-dir", `/run/weft/lab/${name}/node1/run`]);
  const trace = step("the path a packet takes from pod client (node3) to pod web (node1), read from kernel state", ["trace", "client", "web", "--lab", name]);

  const next: [string, string][] = [
    [`weft lab exec client --name ${name} -- ping -c 3 WEB_IP`, "WEB_IP from weft lab pods"],
    [`weft lab exec client --name ${name} -- bash -c 'exec 3<>/dev/tcp/WEB_IP/8080; cat <&3'`, "web sees client's own IP: no NAT"],
    [`weft status --lab ${name}`, "every agent: lease, backend, MTU, store, peers"],
    [`weft status connections --lab ${name}`, "every node pings every peer over the backend, at full MTU"],
    [`weft doctor --lab ${name}`, "checks forwarding, routes, MTU, the CNI files, the agents"],
    ["weft lab up --name broken --nodes 2 --scenario wrong-iface", "the classic: every node advertises 10.0.2.15"],
    ["weft doctor --lab broken", "names the cause and the fix"],
    [`weft lab down --name ${name}`, "removes everything the demo made"],
  ];
  say(`\n== what to try next\n${next.map(([cmd, why]) => `  # ${why}\n  ${cmd}`).join("\n")}`);
  return smoke === 0 && trace === 0 ? 0 : 1;
}
