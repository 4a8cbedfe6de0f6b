// Seeing Services in a lab with Kubernetes and weft's service proxy (one
// two-node lab shared by the tests, which run in order): `weft trace POD
// SERVICE` for a Service with endpoints (the DNAT step, the endpoint the
// kernel chose read back from conntrack, then the pod path), one without
// (refused), an undefined port and ping; the smoke test's Service checks;
// and `weft doctor` finding the Service without endpoints, a proxy table
// behind the API (an element deleted while node2's agent is stopped), and
// real kube-proxy (nftables mode, run in node1's namespace) programming the
// same Services as weft's proxy. Everything goes through the real CLI and
// the pinned kubectl.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fetchAgent } from "../../src/agent/client.ts";
import type { ServicesStatus } from "../../src/agent/api.ts";
import type { AgentStatus } from "../../src/agent/status.ts";
import type { Finding } from "../../src/doctor/finding.ts";
import { createRunner, run } from "../../src/kernel/runner.ts";
import { adminKubeconfig } from "../../src/lab/control/kubectl.ts";
import { kubeBinary } from "../../src/lab/control/binaries.ts";
import { labLayout, nodePaths } from "../../src/lab/layout.ts";
import { serviceChecks } from "../../src/lab/smoke/services.ts";
import { readLabState } from "../../src/lab/state.ts";
import { REAL_AGENT, uniqueLabName, weft, weftOk } from "../../src/lab/testing.ts";
import { ROOT } from "../../src/lib/root.ts";
import { findLabPod } from "../../src/trace/lab-pods.ts";
import type { TraceReport } from "../../src/trace/path.ts";
import type { ServiceTraceReport } from "../../src/trace/service/trace.ts";
import { until } from "../support/until.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;
const ECHO = [process.execPath, "--disable-warning=ExperimentalWarning", join(ROOT, "src/lab/echo-source.ts"), "--port", "8080"];

describe("seeing Services: trace, smoke and doctor in a lab with weft's service proxy", { skip, timeout: 600_000 }, () => {
  const name = uniqueLabName("svs");
  const lab = labLayout(name);
  const ns = (node: string) => `${name}-${node}`;
  const kubectlOk = async (...args: string[]) => {
    const r = await weft(["lab", "kubectl", "--name", name, "--", ...args], REAL_AGENT);
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const trace = async (...args: string[]) => {
    const r = await weft(["trace", ...args, "--lab", name, "-o", "json"], REAL_AGENT);
    return { code: r.code, report: JSON.parse(r.stdout || "null") as ServiceTraceReport, stderr: r.stderr };
  };
  const doctor = async () => JSON.parse((await weft(["doctor", "--lab", name, "-o", "json"], REAL_AGENT)).stdout) as Finding[];
  const finding = (all: Finding[], node: string, check: string) => all.find((f) => f.node === node && f.check === check);
  const ips: Record<string, string> = {};
  let web = "";

  before(async () => {
    await weftOk(["lab", "up", "--name", name, "--nodes", "2"], REAL_AGENT);
    for (const [pod, node, app] of [["web1", "node1", "web"], ["web2", "node2", "web"], ["cli", "node1", "cli"]] as const) {
      const out = await weftOk(["lab", "run", pod, "--name", name, "--node", node, "--labels", `app=${app}`, "--", ...ECHO], REAL_AGENT);
      ips[pod] = /with IP (\S+)/.exec(out)![1]!;
    }
    const file = join(lab.dir, "services.json");
    const svc = (n: string, app: string, portName: string) => ({ apiVersion: "v1", kind: "Service", metadata: { name: n, namespace: "default" }, spec: { selector: { app }, ports: [{ name: portName, port: 80, targetPort: 8080 }] } });
    writeFileSync(file, JSON.stringify({ apiVersion: "v1", kind: "List", items: [svc("web", "web", "http"), svc("empty", "nothing", "")] }));
    await kubectlOk("apply", "-f", file);
    web = (await kubectlOk("get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")).trim();
    // Both agents have programmed web with its two endpoints, and empty as refused.
    for (const node of ["node1", "node2"]) {
      await until(`${node}'s proxy to program the Services`, async () => {
        const s = await fetchAgent<ServicesStatus>(nodePaths(lab, node).agentSocket, "/services");
        return s.ports.find((p) => p.service === "default/web")?.endpoints.length === 2 && s.ports.find((p) => p.service === "default/empty")?.internal === "reject";
      }, 60_000, 200);
    }
  });
  after(() => weft(["lab", "down", "--name", name]));

  test("trace to a Service: the DNAT step, the endpoint the kernel chose (it is in node1's conntrack), then the path to that pod", async () => {
    const { code, report, stderr } = await trace("cli", "web");
    assert.equal(code, 0, stderr + JSON.stringify(report, null, 1));
    assert.equal(report.verdict, "dnat");
    assert.deepEqual(report.hops.map((h) => `${h.status} ${h.at} ${h.what}`), ["ok api service", "ok api endpoints", "ok node1 proxy map", "ok node1 endpoints", "ok node1 probe"]);
    assert.match(report.hops[2]!.found, new RegExp(`^service-ips: ${web.replaceAll(".", "\\.")} \\. tcp \\. 80 → goto pick-cluster-tcp-2$`));
    assert.match(report.hops[3]!.found, /numgen random, 1\/2 each\), as the API says$/);
    const ep = report.endpoint!;
    assert.equal(ep.chosenBy, "conntrack");
    assert.ok([ips.web1, ips.web2].includes(ep.ip), ep.ip);
    assert.equal(ep.port, 8080);
    assert.equal(ep.pod, ep.ip === ips.web1 ? "default/web1" : "default/web2");
    // The kernel's own record of the probe: node1's conntrack holds a connection from cli to web's ClusterIP translated to that endpoint.
    const ct = await run(createRunner(ns("node1")), ["conntrack", "-L", "-p", "tcp", "--orig-src", ips.cli!, "--orig-dst", web, "--orig-port-dst", "80"]);
    assert.match(ct, new RegExp(`src=${ep.ip.replaceAll(".", "\\.")} dst=${ips.cli!.replaceAll(".", "\\.")} sport=8080`));
    assert.equal(report.path!.complete, true);
    assert.equal(report.path!.to.ip, ep.ip);
    assert.equal(report.path!.sameNode, ep.ip === ips.web1);
  });

  test("pod to pod between the API's Pods (a bare second name that is a pod is traced as one)", async () => {
    const r = await weft(["trace", "cli", "web2", "--lab", name, "-o", "json"], REAL_AGENT);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const path = JSON.parse(r.stdout) as TraceReport;
    assert.deepEqual([path.from.ip, path.to.ip, path.sameNode, path.complete], [ips.cli, ips.web2, false, true]);
  });

  test("the same Service by ClusterIP:PORT and by NAMESPACE/NAME:PORT-NAME, as text", async () => {
    for (const target of [`${web}:80`, "default/web:http"]) {
      const r = await weft(["trace", "default/cli", target, "--lab", name], REAL_AGENT);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`^trace pod default/cli \\(${ips.cli!.replaceAll(".", "\\.")}\\) → service default/web ${web.replaceAll(".", "\\.")}:80/TCP: from node1, lab ${name}\n`));
      assert.match(r.stdout, /\nDNAT → 10\.244\.\d+\.\d+:8080 \(pod default\/web[12] on node[12]\): the kernel's choice for the probe, read from conntrack\n/);
      assert.match(r.stdout, /\nservice reached: \S+ is translated to 10\.244\.\d+\.\d+:8080\n$/);
    }
  });

  test("UDP to the cluster DNS Service: one datagram, and its conntrack entry names the DNS pod the kernel chose", async () => {
    await until("node1's proxy to program kube-dns with an endpoint", async () => {
      const s = await fetchAgent<ServicesStatus>(nodePaths(lab, "node1").agentSocket, "/services");
      return (s.ports.find((p) => p.id === "kube-system/kube-dns/udp/dns")?.endpoints.length ?? 0) > 0;
    }, 120_000, 500);
    const { code, report, stderr } = await trace("cli", "kube-system/kube-dns:dns", "--protocol", "udp");
    assert.equal(code, 0, stderr + JSON.stringify(report, null, 1));
    assert.equal(report.target, "10.96.0.10:53/UDP");
    assert.equal(report.endpoint?.chosenBy, "conntrack");
    assert.equal(report.endpoint?.port, 53);
    assert.match(report.endpoint!.pod!, /^kube-system\//);
    assert.match(report.hops.at(-1)!.found, /^UDP from cli:\d+ → 10\.96\.0\.10:53: (answered in [\d.]+ ms|sent \(UDP: no answer, no refusal\)); conntrack on node1: DNAT to 10\.244\.\d+\.\d+:53/);
  });

  test("a Service without endpoints, a port it does not define, and ping: refused or no reply, each explained", async () => {
    const empty = await trace("cli", "empty");
    assert.equal(empty.code, 1);
    assert.equal(empty.report.verdict, "refused");
    assert.match(empty.report.hops.find((h) => h.what === "proxy map")!.found, /^no-endpoint-services: \S+ \. tcp \. 80 → goto reject-chain: no endpoint at all/);
    assert.match(empty.report.hops.at(-1)!.found, /: refused in [\d.]+ ms \(ECONNREFUSED\)$/);
    assert.equal(empty.report.path, null);

    const port = await trace("cli", "web:9999");
    assert.equal(port.code, 1);
    assert.equal(port.report.verdict, "refused");
    assert.match(port.report.hops[0]!.missing!, /port 9999\/TCP: the Service does not define it/);
    assert.match(port.report.hops[1]!.found, /is in set cluster-ips, so the post-DNAT check rejects the packet/);
    assert.match(port.report.hops.at(-1)!.found, /refused in [\d.]+ ms \(ECONNREFUSED\)$/);

    const ping = await trace("cli", web, "--protocol", "icmp");
    assert.equal(ping.code, 1);
    assert.equal(ping.report.verdict, "no-reply");
    assert.match(ping.report.hops[1]!.found, /translated \(DNAT\) for TCP, UDP and SCTP only/);
    assert.match(ping.report.hops.at(-1)!.found, /got "Destination Port Unreachable" in \d+ ms, no echo reply$/);
  });

  test("bad SERVICE arguments are one line on stderr and change nothing", async () => {
    for (const [args, message] of [
      [["cli", "default/nope"], /^weft: trace: the cluster has no Service default\/nope; list them: weft lab kubectl --name \S+ -- get services -A\n$/],
      [["cli", "web:nope"], /^weft: trace: Service default\/web has no port named "nope"; its ports: http 80\/TCP; name one of them, e\.g\. default\/web:80\n$/],
      [["cli", "10.96.5.5:80"], /^weft: trace: no Service has ClusterIP 10\.96\.5\.5; the service proxy drops packets to addresses of the service CIDR no Service holds/],
      [["cli", "web", "--protocol", "gre"], /^weft: trace: invalid --protocol "gre"; use one of tcp, udp, sctp, icmp\n$/],
      [["cli", "Web:80"], /^weft: trace: "Web:80" is not a Service/],
      [["nobody", "web"], /^weft: lab \S+ has no pod "nobody"; run weft lab pods --name \S+ for its pods\n$/],
    ] as const) {
      const r = await weft(["trace", ...args, "--lab", name], REAL_AGENT);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.stderr, message);
    }
  });

  test("smoke's Service checks: ClusterIP across nodes, NodePort from the outside host, no endpoints refused at once; nothing left behind", async () => {
    const state = readLabState(lab);
    const pod = (p: string) => findLabPod(lab, state, p);
    const rows = await serviceChecks({ lab, state, pods: { a: pod("web1"), b: pod("cli"), c: pod("web2") } });
    assert.deepEqual(rows.map((r) => `${r.check} ${r.result}`), ["ClusterIP pass", "NodePort, outside pass", "no endpoints refused pass"], JSON.stringify(rows, null, 1));
    assert.match(rows[0]!.detail, new RegExp(`saw ${ips.web2!.replaceAll(".", "\\.")}, web2's own IP`));
    assert.match(rows[1]!.to, /^node2 \(192\.168\.125\.102:\d+\)$/);
    assert.match(rows[2]!.detail, /^ECONNREFUSED in [\d.]+ ms, not a timeout$/);
    assert.equal((await kubectlOk("get", "services,endpointslices", "-l", "weft.dev/smoke=true", "-o", "name")).trim(), "");
  });

  test("doctor names the Service without endpoints, and finds the proxy tables in step with the API", async () => {
    const all = await doctor();
    const services = finding(all, "node1", "services")!;
    assert.equal(services.status, "warn");
    // The lab's own Services (kubernetes, kube-dns) have endpoints; web has two.
    assert.match(services.message, /^1 of \d+ Services has no ready endpoint, so connections to it are refused: default\/empty$/);
    assert.equal(finding(all, "node2", "services"), undefined);
    for (const node of ["node1", "node2"]) {
      assert.equal(finding(all, node, "service-proxy")?.status, "ok");
      assert.match(finding(all, node, "service-proxy")!.message, /^table ip weft-proxy matches the API: \d+ service ports, \d+ map elements$/);
      assert.equal(finding(all, node, "kube-proxy")?.status, "ok");
    }
  });

  test("doctor finds node2's table behind the API while its agent is stopped; the agent repairs it when it runs again", async () => {
    const status = await fetchAgent<AgentStatus>(nodePaths(lab, "node2").agentSocket, "/status");
    process.kill(status.pid, "SIGSTOP");
    try {
      await run(createRunner(ns("node2")), ["nft", "delete", "element", "ip", "weft-proxy", "service-ips", `{ ${web} . tcp . 80 }`]);
      const f = finding(await doctor(), "node2", "service-proxy")!;
      assert.equal(f.status, "fail");
      assert.equal(f.message, `table ip weft-proxy is stale, behind the Services and EndpointSlices: missing ${web}:80/TCP`);
    } finally {
      process.kill(status.pid, "SIGCONT");
    }
    await until("node2's agent to restore the element", async () => (await createRunner(ns("node2")).exec(["nft", "get", "element", "ip", "weft-proxy", "service-ips", `{ ${web} . tcp . 80 }`])).code === 0, 30_000, 200);
    assert.equal(finding(await doctor(), "node2", "service-proxy")?.status, "ok");
  });

  test("doctor fails a node where kube-proxy (nftables mode) programs the same Services as weft's proxy", async () => {
    const node1 = createRunner(ns("node1"));
    const kubeProxy = spawn("ip", [
      "netns", "exec", ns("node1"), kubeBinary("kube-proxy"), `--kubeconfig=${adminKubeconfig(lab, readLabState(lab))}`, "--proxy-mode=nftables", "--hostname-override=node1",
      "--cluster-cidr=10.244.0.0/16", "--conntrack-max-per-core=0", "--conntrack-tcp-timeout-established=0", "--conntrack-tcp-timeout-close-wait=0",
      "--metrics-bind-address=127.0.0.1:10249", "--healthz-bind-address=127.0.0.1:10256",
    ], { stdio: "ignore" });
    try {
      await until("kube-proxy to program web", async () => (await node1.exec(["nft", "get", "element", "ip", "kube-proxy", "service-ips", `{ ${web} . tcp . 80 }`])).code === 0, 60_000, 200);
    } finally {
      kubeProxy.kill("SIGTERM");
      await new Promise((resolve) => (kubeProxy.exitCode === null ? kubeProxy.once("exit", resolve) : resolve(null)));
    }
    try {
      // What both translate, read from the two tables themselves.
      const keys = async (table: string) => {
        type Key = { concat: unknown[] } | { elem: { val: { concat: unknown[] } } };
        const listed = JSON.parse(await run(node1, ["nft", "-j", "list", "map", "ip", table, "service-ips"])) as { nftables: { map?: { elem?: [Key, unknown][] } }[] };
        return new Set(listed.nftables.flatMap((o) => o.map?.elem ?? []).map(([k]) => ("elem" in k ? k.elem.val : k).concat.join(" . ")));
      };
      const weftKeys = await keys("weft-proxy");
      const both = [...(await keys("kube-proxy"))].filter((k) => weftKeys.has(k));
      assert.ok(both.includes(`${web} . tcp . 80`), both.join(", "));
      const all = await doctor();
      const f = finding(all, "node1", "kube-proxy")!;
      assert.equal(f.status, "fail");
      assert.match(f.message, new RegExp(`^kube-proxy \\(table ip kube-proxy\\) and weft's service proxy both program ${both.length} service addresses, e\\.g\\. `));
      assert.match(f.fix!, /"serviceProxy": false/);
      assert.equal(finding(all, "node2", "kube-proxy")?.status, "ok");
    } finally {
      // kube-proxy leaves its tables when it stops; --cleanup is its own way, deleting them is the same.
      for (const family of ["ip", "ip6"]) await node1.exec(["nft", "delete", "table", family, "kube-proxy"]);
    }
  });
});
