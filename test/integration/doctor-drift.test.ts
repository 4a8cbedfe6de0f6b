// weft doctor against kernel state built with the backends themselves (no
// agent, so no resync repairs what the test breaks): two vxlan nodes on one
// switch, each with a stand-in agent API on a unix socket that reports the
// leases and measures connections with the agent's own code. Deleting a
// peer's route, FDB entry or the nftables table by hand is reported with
// the fix; a reconcile (the agent's resync) clears it.
import { Histogram } from "../../src/metrics/histogram.ts";
import { RECONCILE_BUCKETS } from "../../src/agent/metrics.ts";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { measureConnections } from "../../src/agent/connections.ts";
import { ensureMasquerade } from "../../src/agent/masquerade.ts";
import type { AgentStatus } from "../../src/agent/status.ts";
import type { SetupResult } from "../../src/backend/types.ts";
import { VxlanBackend } from "../../src/backend/vxlan/vxlan.ts";
import { installCni } from "../../src/cli/commands/install-cni.ts";
import type { DoctorTarget } from "../../src/doctor/collect.ts";
import { runDoctor } from "../../src/doctor/doctor.ts";
import type { Finding } from "../../src/doctor/finding.ts";
import { createRunner, run } from "../../src/kernel/runner.ts";
import { parsePrefix } from "../../src/lib/ipv4.ts";
import { writeSubnetFile } from "../../src/subnet/file.ts";
import { localOf, peerOf, sh, Topology, type TopoNode } from "./backend-topology.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

describe("doctor on kernel state the backends made", { skip, timeout: 60_000 }, () => {
  const topo = new Topology("dr");
  const dir = mkdtempSync(join(tmpdir(), "weft-doctor-drift-"));
  const servers: Server[] = [];
  let nodes: TopoNode[];
  let backends: VxlanBackend[];
  let setups: SetupResult[];
  let targets: DoctorTarget[];

  const reconcile = () => Promise.all(nodes.map((n, i) => backends[i]!.reconcile(nodes.filter((p) => p !== n).map((p) => peerOf(p, setups[p.k - 1]!.backendData)))));
  const doctor = async () => runDoctor(targets, null);
  const notOk = (findings: Finding[]) => findings.filter((f) => f.status !== "ok");

  /** What node n's agent would report. */
  const statusOf = (n: TopoNode, paths: DoctorTarget["paths"]): AgentStatus => ({
    node: `node${n.k}`, version: "test", pid: process.pid, startedAt: new Date().toISOString(), ready: true,
    readiness: { lease: true, backend: true, subnetFile: true },
    network: "10.244.0.0/16", subnet: n.subnet, gateway: `10.244.${n.k}.1`, publicIp: n.ip,
    underlay: { name: "eth0", mtu: 1500 }, mtu: setups[n.k - 1]!.mtu, backend: "vxlan", backendData: setups[n.k - 1]!.backendData, ipMasq: true,
    leaseExpiresAt: null, store: { name: "embedded", location: dir, healthy: true, lastError: null },
    peers: nodes.filter((p) => p !== n).map((p) => ({ ...peerOf(p, setups[p.k - 1]!.backendData), backend: "vxlan", leaseExpiresAt: 0, state: "programmed" as const })),
    reconcile: { runs: 1, failures: 0, problems: 0, lastAt: new Date().toISOString(), lastDurationMs: 1, lastProblems: [], duration: new Histogram(RECONCILE_BUCKETS).snapshot() },
    paths: { runDir: paths.runDir, stateDir: dir, subnetFile: paths.subnetFile, socket: paths.socket, ipamDir: join(dir, `ipam${n.k}`) },
  });

  /** Serves node n's API the way the agent does, on its socket. */
  const serve = async (n: TopoNode, status: AgentStatus): Promise<void> => {
    const server = createServer((req, res) => {
      const json = (body: unknown) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (req.url === "/status") return json(status);
      if (req.url === "/connections") return void measureConnections(createRunner(n.node), status).then(json);
      res.writeHead(200, { "content-type": "text/plain" }).end(req.url === "/readyz" ? "ready\n" : "ok\n");
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(status.paths.socket, resolve));
  };

  before(async () => {
    topo.addSwitch();
    nodes = [topo.addNode(1), topo.addNode(2)];
    // The topology's pods have MTU 1500; doctor would rightly say they do not fit vxlan.
    for (const n of nodes) sh(`ip -n ${n.node} link set vethp mtu 1450; ip -n ${n.pod} link set eth0 mtu 1450`);
    backends = nodes.map((n) => new VxlanBackend({ runner: createRunner(n.node) }));
    setups = await Promise.all(nodes.map((n, i) => backends[i]!.setup(localOf(n))));
    await reconcile();
    targets = await Promise.all(
      nodes.map(async (n, i) => {
        const base = join(dir, `node${n.k}`);
        const paths = { runDir: join(base, "run"), socket: join(base, "run", "agent.sock"), subnetFile: join(base, "run", "subnet.env"), confDir: join(base, "net.d"), binDir: join(base, "bin") };
        mkdirSync(paths.runDir, { recursive: true });
        const subnet = parsePrefix(n.subnet);
        writeSubnetFile(paths.subnetFile, { network: parsePrefix("10.244.0.0/16"), subnet, gateway: subnet.base + 1, mtu: setups[i]!.mtu, ipMasq: true });
        installCni({ binDir: paths.binDir, confDir: paths.confDir, subnetFile: paths.subnetFile });
        await ensureMasquerade(createRunner(n.node), { clusterCidr: "10.244.0.0/16", ipMasq: true });
        await serve(n, statusOf(n, paths));
        return { name: `node${n.k}`, nameFromAgent: false, runner: createRunner(n.node), paths, agentLog: "log", onNode: (c: string) => `ip netns exec ${n.node} ${c}` };
      }),
    );
  });

  after(() => {
    for (const s of servers) s.close();
    topo.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test("as the backends made it, every check is ok", async () => {
    const findings = await doctor();
    assert.deepEqual(notOk(findings), []);
    assert.ok(findings.some((f) => f.node === "node1" && f.check === "peer node2" && f.status === "ok"));
    assert.ok(findings.some((f) => f.node === "node2" && f.check === "path node1" && /1450-byte packets get through/.test(f.message)));
  });

  test("a peer route deleted by hand: the peer and both paths fail, with the command that restores it", async () => {
    sh(`ip -n ${nodes[0]!.node} route del 10.244.2.0/24 dev weft.1`);
    const bad = notOk(await doctor());
    // node2's probes reach node1, but node1's answers have no route back.
    assert.deepEqual(bad.map((f) => `${f.node} ${f.check} ${f.status}`), ["node1 peer node2 fail", "node1 path node2 fail", "node2 path node1 fail"]);
    assert.match(bad[0]!.message, /^missing or wrong: route 10\.244\.2\.0\/24 via 10\.244\.2\.0 dev weft\.1 onlink, so pod traffic to node2 is lost$/);
    assert.match(bad[0]!.fix!, new RegExp(`by hand: ip netns exec ${nodes[0]!.node} ip route replace 10\\.244\\.2\\.0/24 via 10\\.244\\.2\\.0 dev weft\\.1 onlink;`));
    await run(createRunner(nodes[0]!.node), ["ip", "route", "replace", "10.244.2.0/24", "via", "10.244.2.0", "dev", "weft.1", "onlink"]);
    assert.deepEqual(notOk(await doctor()), [], "the printed command restores it");
  });

  test("an FDB entry deleted by hand is reported; a reconcile (the agent's resync) clears it", async () => {
    sh(`bridge -n ${nodes[1]!.node} fdb del 0a:58:0a:f4:01:00 dev weft.1 dst 192.168.125.101`);
    const bad = notOk(await doctor()).filter((f) => f.check === "peer node1");
    assert.equal(bad.length, 1);
    assert.match(bad[0]!.message, /FDB entry 0a:58:0a:f4:01:00 dev weft\.1 dst 192\.168\.125\.101 self permanent/);
    await reconcile();
    assert.deepEqual(notOk(await doctor()), []);
  });

  test("the nftables table and forwarding lost: both reported", async () => {
    sh(`ip netns exec ${nodes[0]!.node} nft delete table ip weft; ip netns exec ${nodes[0]!.node} sysctl -qw net.ipv4.ip_forward=0`);
    const bad = notOk(await doctor());
    assert.deepEqual(bad.map((f) => `${f.node} ${f.check}`), ["node1 forwarding", "node1 nftables"]);
    assert.match(bad[1]!.message, /^table ip weft is missing/);
  });
});
