/**
 * bench/policy: what network policy costs, in namespaces of the bench's own.
 * The controller runs inside node n1's namespace as the agent does (this
 * file runs itself there with `ip netns exec`), over 1,000 Pod objects
 * (100 of them on n1, in 10 namespaces) and P NetworkPolicies (P = 0, 100,
 * 1,000; BENCH_POLICY_SIZES), with three real pods on n1's bridge: a
 * client, a server and a "victim".
 *
 *   - initial sync: compile + one nft transaction building the table;
 *   - creation → enforcement: a new policy isolating the victim, timed from
 *     the event reaching the controller to nft having committed its rules
 *     (compile + diff + apply; no API server: the control-plane figure the
 *     brief asks for), 20 times; after each one a real probe from the
 *     client confirms the victim is cut off, and the policy is deleted
 *     again (also timed);
 *   - TCP connect rate from client to server for 3 s (4 workers, connect,
 *     read the greeting, close): the server is selected by P/100 of the
 *     policies, each allowing the client by label, so each new connection
 *     walks the server's per-pod chain; and one TCP stream's throughput
 *     (iperf3, 2 s), where only the first packet meets the rules.
 *
 * The reference, sigs.k8s.io/kube-network-policies v0.8.0, is built from
 * the Go module proxy (scripts/kube-network-policies.sh) and run only if
 * the kernel can do what it needs: it sends each new connection of a
 * policy-selected pod to user space with nft's `queue` statement, which
 * needs nft_queue (CONFIG_NFT_QUEUE). The bench checks that in a namespace
 * and says why the reference did not run when it cannot; bench/policy-
 * reference then compares weft with kube-router's policy controller.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createRunner } from "../src/kernel/runner.ts";
import { ROOT } from "../src/lib/root.ts";
import { PolicyController } from "../src/policy/controller.ts";
import type { Namespace, NetworkPolicy, Pod } from "../src/policy/types.ts";
import { ipBatch, Scratch } from "./agent-scratch.ts";
import { ms, percentile, printTable } from "./stats.ts";

const SIZES = (process.env.BENCH_POLICY_SIZES ?? "0,100,1000").split(",").map(Number);
export const PODS = 1000;
const ROUNDS = 20;
export const POLPROBE = join(ROOT, "build/polprobe");
export const CLIENT = "10.244.1.2";
export const SERVER = "10.244.1.3";
export const VICTIM = "10.244.1.4";

export function world(p: number): { pods: Pod[]; namespaces: Namespace[]; policies: NetworkPolicy[] } {
  const namespaces = Array.from({ length: 10 }, (_, i) => ({ name: `ns${i}`, labels: { "kubernetes.io/metadata.name": `ns${i}`, team: i % 2 ? "blue" : "red" } }));
  const pods: Pod[] = [
    { namespace: "ns0", name: "client", labels: { app: "client" }, ips: [CLIENT], node: "n1", hostNetwork: false, ports: [] },
    { namespace: "ns0", name: "server", labels: { app: "server" }, ips: [SERVER], node: "n1", hostNetwork: false, ports: [{ name: "http", port: 80, protocol: "TCP" }] },
    { namespace: "ns0", name: "victim", labels: { app: "victim" }, ips: [VICTIM], node: "n1", hostNetwork: false, ports: [] },
  ];
  for (let i = pods.length; i < PODS; i++) {
    // Node k holds 10.244.k.0/24; n1's own pods start after the three real ones.
    const node = i % 10;
    const host = 2 + Math.floor(i / 10) + (node === 1 ? 3 : 0);
    pods.push({ namespace: `ns${i % 10}`, name: `p${i}`, labels: { app: `app${i % 20}`, tier: i % 3 ? "be" : "fe" }, ips: [`10.244.${node}.${host}`], node: `n${node}`, hostNetwork: false, ports: [{ name: "http", port: 8080, protocol: "TCP" }] });
  }
  const policies: NetworkPolicy[] = [];
  for (let j = 0; j < p; j++) {
    const ns = `ns${j % 10}`;
    if (j % 100 === 0) {
      // Selects the server: allows the client (and one more app) on 80 and iperf3's 5201.
      policies.push({ namespace: "ns0", name: `server-${j}`, podSelector: { matchLabels: { app: "server" } }, ingress: [{ peers: [{ podSelector: { matchLabels: { app: "client" } } }, { namespaceSelector: { matchLabels: { team: "blue" } }, podSelector: { matchLabels: { app: `app${j % 20}` } } }], ports: [{ protocol: "TCP", port: 80 }, { protocol: "TCP", port: 5201 }] }], egress: [] });
      continue;
    }
    policies.push({
      namespace: ns,
      name: `pol-${j}`,
      podSelector: { matchLabels: { app: `app${j % 20}` } },
      ingress: [{ peers: [{ namespaceSelector: { matchLabels: { team: j % 2 ? "blue" : "red" } }, podSelector: { matchLabels: { app: `app${(j + 1) % 20}` } } }, { ipBlock: { cidr: "10.0.0.0/8", except: [`10.244.${j % 10}.0/24`] } }], ports: [{ protocol: "TCP", port: "http" }, { protocol: "TCP", port: 9000, endPort: 9100 }] }],
      egress: j % 4 === 0 ? [{ peers: [{ namespaceSelector: {} }], ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 8080 }] }] : [],
      ...(j % 4 === 0 && { policyTypes: ["Ingress", "Egress"] as const }),
    });
  }
  return { pods, namespaces, policies };
}

/** Runs in node n1's namespace: measures size `p` and returns one table row. */
async function measure(p: number, clientNs: string): Promise<string[]> {
  const controller = new PolicyController({ nodeName: "n1", runner: createRunner(), log: (l) => process.stderr.write(`policy: ${l}\n`), minSyncIntervalMs: 0, burst: 1000, resyncMs: 3_600_000 });
  const probe = (timeoutMs: number, target: string) => {
    const r = spawnSync("ip", ["netns", "exec", clientNs, POLPROBE, "probe", String(timeoutMs), target], { encoding: "utf8" });
    return (JSON.parse(r.stdout) as Record<string, boolean>)[target];
  };
  try {
    const w = world(p);
    for (const n of w.namespaces) controller.upsertNamespace(n);
    for (const pod of w.pods) controller.upsertPod(pod);
    for (const pol of w.policies) controller.upsertPolicy(pol);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    controller.markPodsSynced();
    controller.markNamespacesSynced();
    controller.markPoliciesSynced();
    await controller.syncNow();
    const initialMs = performance.now() - t0;
    const initial = controller.lastSync()!;
    if (!controller.synced) throw new Error("the first sync failed");
    if (!probe(1000, `tcp:${VICTIM}:80`)) throw new Error("the victim is not reachable before any policy isolates it");

    const create: number[] = [];
    const remove: number[] = [];
    const compile: number[] = [];
    let verified = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const t = performance.now();
      controller.upsertPolicy({ namespace: "ns0", name: `isolate-victim-${r}`, podSelector: { matchLabels: { app: "victim" } }, ingress: [], egress: [] });
      await controller.syncNow();
      create.push(performance.now() - t);
      compile.push(controller.lastSync()!.compileMs);
      if (controller.lastSync()!.kind !== "partial") throw new Error("expected a partial sync");
      if (r % 5 === 0) verified += probe(300, `tcp:${VICTIM}:80`) === false ? 1 : -100;
      const d = performance.now();
      controller.deletePolicy("ns0", `isolate-victim-${r}`);
      await controller.syncNow();
      remove.push(performance.now() - d);
    }
    if (verified !== ROUNDS / 5) throw new Error("a probe reached the victim while a policy isolated it");
    if (!probe(1000, `tcp:${VICTIM}:80`)) throw new Error("the victim is not reachable after the policies went");
    const cpu = process.cpuUsage(cpu0);
    const rss = process.memoryUsage().rss;

    const rate = spawnSync("ip", ["netns", "exec", clientNs, POLPROBE, "rate", SERVER, "80", "3", "4"], { encoding: "utf8" });
    const r = JSON.parse(rate.stdout) as { connections: number; errors: number; perSecond: number };
    if (r.errors > 0) throw new Error(`${r.errors} connections to the server failed with ${p} policies`);
    // Throughput of one TCP stream (iperf3, 2 s) to the server, whose iperf3 -s the parent started.
    const iperf = spawnSync("ip", ["netns", "exec", clientNs, "iperf3", "-c", SERVER, "-t", "2", "-J", "--connect-timeout", "2000"], { encoding: "utf8" });
    const received = (JSON.parse(iperf.stdout || "{}") as { end?: { sum_received?: { bits_per_second: number } }; error?: string }).end?.sum_received;
    if (!received) throw new Error(`iperf3 to the server failed with ${p} policies: ${iperf.stdout.slice(0, 300)}`);
    const gbps = (received.bits_per_second / 1e9).toFixed(2);
    const status = controller.status();
    const serverPolicies = status.pods.find((x) => x.name === "server")!.ingress.policies.length;
    const q = (xs: number[]) => `${ms(percentile(xs, 50))} / ${ms(percentile(xs, 95))}`;
    return [
      String(p), String(PODS), String(status.pods.length), ms(initialMs), ms(initial.compileMs), q(create), ms(percentile(compile, 50)), q(remove),
      `${verified}/${ROUNDS / 5}`, String(serverPolicies), `${Math.round(r.perSecond)}/s`, `${gbps} Gbit/s`, `${Math.round(rss / 2 ** 20)} MB`, `${((cpu.user + cpu.system) / 1e6).toFixed(2)} s`,
    ];
  } finally {
    await controller.stop();
  }
}

/** Can this kernel run nft's `queue` statement (what kube-network-policies needs)? Checked in a namespace of the bench's. */
function nftQueueSupported(scratch: Scratch): { ok: boolean; why: string } {
  const [ns] = scratch.addNamespaces(["q"]);
  try {
    const r = spawnSync("ip", ["netns", "exec", ns!, "nft", "-f", "-"], { input: "add table inet q\nadd chain inet q f { type filter hook forward priority 0 ; }\nadd rule inet q f ct state new queue num 100 bypass\n", encoding: "utf8" });
    return { ok: r.status === 0, why: r.stderr.trim().split("\n")[0] ?? "" };
  } finally {
    scratch.removeNamespaces([ns!]);
  }
}

export async function benchPolicy(): Promise<void> {
  const scratch = new Scratch("wbpol");
  const rows = [["policies", "pods", "on n1", "initial sync", "of which compile", "create→enforced p50/p95", "compile p50", "delete→lifted p50/p95", "probe-verified", "policies on server", "TCP connects (4 workers)", "TCP throughput (1 stream)", "RSS", "CPU (controller)"]];
  let reference = "";
  try {
    for (const p of SIZES) {
      const [node, client, server, victim] = scratch.addNamespaces([`n1-${p}`, `c-${p}`, `s-${p}`, `v-${p}`]);
      try {
        const lines: string[] = ["link add weft0 type bridge", "addr add 10.244.1.1/24 dev weft0", "link set weft0 up"];
        for (const [i, pod] of [client, server, victim].entries()) {
          lines.push(`link add vp${i} type veth peer name eth0 netns ${pod}`, `link set vp${i} master weft0 up`);
        }
        ipBatch(lines, node);
        for (const [pod, ip] of [[client, CLIENT], [server, SERVER], [victim, VICTIM]] as const) ipBatch([`addr add ${ip}/24 dev eth0`, "link set eth0 up", "link set lo up", "route add default via 10.244.1.1"], pod);
        spawnSync("ip", ["netns", "exec", node!, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        scratch.spawn(["ip", "netns", "exec", server!, "iperf3", "-s"], { stdio: "ignore" });
        for (const [pod, name] of [[server, "server"], [victim, "victim"]] as const) {
          const s = scratch.spawn(["ip", "netns", "exec", pod!, POLPROBE, "serve", name, "80"], { stdio: ["ignore", "pipe", "inherit"] });
          await new Promise<void>((resolve) => s.stdout!.once("data", () => resolve()));
        }
        const child = spawnSync("ip", ["netns", "exec", node!, process.execPath, "--disable-warning=ExperimentalWarning", import.meta.filename, "--inside", String(p), client!], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
        if (child.status !== 0) throw new Error(`policy bench with ${p} policies exited ${child.status}`);
        rows.push(JSON.parse(child.stdout) as string[]);
      } finally {
        scratch.removeNamespaces([node!, client!, server!, victim!]);
      }
    }
    const q = nftQueueSupported(scratch);
    const bin = spawnSync("sh", [join(ROOT, "scripts/kube-network-policies.sh")], { encoding: "utf8" });
    const built = bin.status === 0 ? `built (${bin.stdout.trim()})` : `not built: ${bin.stderr.trim().split("\n").at(-1)}`;
    reference = q.ok
      ? `reference: kube-network-policies v0.8.0 ${built}; this kernel has nft queue, but running it needs the lab's API server (not wired into this bench yet)`
      : `reference: kube-network-policies v0.8.0 ${built}, not run: it sends every new connection of a selected pod to user space with nft's \`queue\` statement, and this kernel refuses it ("${q.why}": no nft_queue, CONFIG_NFT_QUEUE is off), so it could enforce nothing here; bench/policy-reference measures kube-router's policy controller instead`;
  } finally {
    scratch.dispose();
  }
  process.stdout.write("\npolicy: weft's network policy controller in node n1's namespace (1,000 Pod objects, 3 of them real pods on n1's bridge)\n");
  printTable(rows);
  process.stdout.write("create→enforced: event in → nft committed (compile + diff + apply), no API server; probe-verified: real probes found the victim cut off\n");
  process.stdout.write(`${reference}\n`);
}

if (import.meta.main) {
  if (process.argv[2] === "--inside") process.stdout.write(JSON.stringify(await measure(Number(process.argv[3]), process.argv[4]!)) + "\n");
  else await benchPolicy();
}
