/**
 * `weft trace POD-A POD-B --lab NAME [-o table|json]`: the path a packet from one
 * lab pod to another takes, hop by hop, read from kernel state (no packet is
 * sent). Exit status 0 when every hop is in place, 1 when the path is broken.
 */
import { WeftError } from "../../lib/errors.ts";
import { DEFAULT_LAB_NAME } from "../../lab/layout.ts";
import { renderTrace } from "../../trace/render.ts";
import { tracePods } from "../../trace/trace.ts";
import { parseServiceRef } from "../../trace/service/ref.ts";
import { renderServiceTrace } from "../../trace/service/render.ts";
import { parseTraceProtocol, traceService, tracesService } from "../../trace/service/trace.ts";
import { parseCommandArgs, parseOutput } from "../args.ts";

const USAGE = `usage: weft trace POD-A POD-B[:PORT[/tcp|udp|sctp]] [--lab NAME (default ${DEFAULT_LAB_NAME})] [-o table|json]
       weft trace POD SERVICE[:PORT] [--protocol tcp|udp|sctp|icmp] [--lab NAME] [-o table|json]

Follows a packet from pod POD-A to pod POD-B through the kernel state of the
pods and their nodes: the pod's eth0 and route, its host veth and the bridge,
forwarding, the node's route decision (ip route get), the backend's state
(vxlan: device, neighbour, FDB; host-gw: the route via the peer), the underlay,
and the same on the far side down to POD-B's eth0. Nothing is sent.

Network policy is two hops: POD-A's egress, as its node's agent enforces
it, and POD-B's ingress, as POD-B's node's agent enforces it. Each names the
policy and rule that allow the traffic, or the policies that isolate the pod
when no rule does (the packet is dropped). With :PORT (protocol tcp unless
given) the verdict is for that destination port; without, for any port,
listing the ports the allowing rules open.

Each hop is one line, ✓ or ✗; a broken hop says what is missing and how to
fix it, and the hops after it show what is there. Exit status 0 when the path
is complete, 1 when it is broken. For the way back, trace POD-B POD-A.

With a Service (NAMESPACE/NAME, NAME in namespace default, or a ClusterIP;
PORT a number or a port name, needed when it has several ports), trace
first shows the DNAT step on POD's node: the Service's port and endpoints in
the API, the key in table ip weft-proxy's verdict map (nft get element), the
endpoints its chain chooses among (numgen), and one probe connection from
POD whose conntrack entry names the endpoint the kernel chose; then the
pod-to-pod path to that endpoint. A Service with no ready endpoint and a
port it does not define are refused (ECONNREFUSED at once). A Service IP
never answers ping: Services are DNAT for TCP, UDP and SCTP only, so
--protocol icmp shows an ICMP echo getting port unreachable, no reply.

A pod is POD or NAMESPACE/POD: one the lab's runtime made, or, with
Kubernetes, one a lab kubelet runs. A bare second name is a pod when the
lab has one of that name, else a Service.

  --lab NAME   the lab the pods run in
  --protocol P  with a Service: tcp, udp, sctp (not probed) or icmp (ping);
               default: the port's own protocol
  -o table|json  the hops as lines (default) or as JSON
`;

/** `weft trace …` */
export async function run(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { values, positionals } = parseCommandArgs("trace", argv, { lab: { type: "string", default: DEFAULT_LAB_NAME }, output: { type: "string", short: "o" }, protocol: { type: "string" } }, true);
  const output = parseOutput("trace", values.output);
  if (positionals.length !== 2) throw new WeftError("USAGE", `trace: expected POD-A POD-B[:PORT[/PROTO]] or POD SERVICE[:PORT], got ${positionals.length === 0 ? "nothing" : positionals.join(" ")}`, { hint: 'run "weft trace --help"' });
  if (tracesService(values.lab, positionals[1]!, values.protocol !== undefined)) {
    const protocol = values.protocol === undefined ? undefined : parseTraceProtocol(values.protocol);
    const svc = await traceService(values.lab, positionals[0]!, parseServiceRef(positionals[1]!), protocol);
    process.stdout.write(output === "json" ? JSON.stringify(svc, null, 2) + "\n" : renderServiceTrace(svc));
    return svc.complete ? 0 : 1;
  }
  const report = await tracePods(values.lab, positionals[0]!, positionals[1]!);
  process.stdout.write(output === "json" ? JSON.stringify(report, null, 2) + "\n" : renderTrace(report));
  return report.complete ? 0 : 1;
}
