/**
 * The agent API on a real unix socket (and loopback TCP) with a fake source:
 * socket permissions, every route and status code, a stale socket replaced,
 * a live one refused, and `weft status` through bin/weft against it — one
 * agent, and every node of a lab made of files only (no namespaces).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { AGENT_RUNNING, AGENT_SOCKET_PATH_TAKEN, startApi, type AgentApi, type AgentApiSource } from "../../src/agent/api.ts";
import { storeFile } from "../../src/agent/ipam-usage.ts";
import { formatHeader, formatRecord } from "../../src/ipam/records.ts";
import type { AgentStatus, ConnectionStatus } from "../../src/agent/status.ts";
import { labLayout, nodePaths } from "../../src/lab/layout.ts";
import { writeLabState } from "../../src/lab/state.ts";
import { uniqueLabName, weft } from "../../src/lab/testing.ts";
import { WeftError } from "../../src/lib/errors.ts";
import { sampleStatus } from "../support/agent-status.ts";

interface HttpAnswer {
  status: number;
  type: string;
  allow: string | undefined;
  body: string;
}

/** One request over a unix socket (a path) or to 127.0.0.1/`host` on a TCP port. */
function get(where: string | { port: number; host?: string }, path: string, method = "GET"): Promise<HttpAnswer> {
  const target = typeof where === "string" ? { socketPath: where } : { host: where.host ?? "127.0.0.1", port: where.port };
  return new Promise((resolve, reject) => {
    const req = request({ ...target, path, method }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, type: String(res.headers["content-type"]), allow: res.headers.allow, body }));
    });
    req.on("error", reject).end();
  });
}

/** Leaves a socket file at `path` with nobody behind it, as a killed agent does. */
function leaveStaleSocket(path: string): void {
  const script = `require("net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`;
  spawnSync(process.execPath, ["-e", script]);
  assert.ok(statSync(path).isSocket());
}

/** A source whose answers the tests change. */
class FakeSource implements AgentApiSource {
  current: AgentStatus;
  measured: ConnectionStatus[] | Error = [];
  constructor(status: AgentStatus) {
    this.current = status;
  }
  status(): AgentStatus {
    return this.current;
  }
  connections(): Promise<ConnectionStatus[]> {
    return this.measured instanceof Error ? Promise.reject(this.measured) : Promise.resolve(this.measured);
  }
}

/** An IPAM data dir with two pods in 10.244.1.0/24. */
function writeIpam(ipamDir: string, content?: string): void {
  mkdirSync(dirname(storeFile(ipamDir)), { recursive: true });
  const allocations = [
    { ip: "10.244.1.2", containerId: "c2", ifname: "eth0", pod: "default/web" },
    { ip: "10.244.1.3", containerId: "c3", ifname: "eth0", pod: "default/db" },
  ];
  writeFileSync(storeFile(ipamDir), content ?? formatHeader("10.244.1.3") + allocations.map(formatRecord).join(""));
}

const CONNECTIONS: ConnectionStatus[] = [
  { node: "node2", publicIp: "192.168.125.102", subnet: "10.244.2.0/24", backend: "vxlan", target: "10.244.2.1", reachable: true, rttMs: 0.31, mtu: 1450, mtuOk: true, error: null },
];

describe("agent API", { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-api-"));
  const socket = join(dir, "run", "agent.sock");
  const ipamDir = join(dir, "ipam");
  const base = sampleStatus({ paths: { ...sampleStatus().paths, runDir: dirname(socket), socket, ipamDir } });
  const source = new FakeSource(base);
  const opened: AgentApi[] = [];
  let api: AgentApi;
  let umaskBefore: number;

  before(async () => {
    writeIpam(ipamDir);
    umaskBefore = process.umask(0o022);
    process.umask(umaskBefore);
    source.measured = CONNECTIONS;
    api = await startApi(source, { socketPath: socket, tcpPort: 0 });
    opened.push(api);
  });
  after(async () => {
    await Promise.all(opened.map((a) => a.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  test("the socket is 0600 and the process umask is left as it was", () => {
    assert.equal(statSync(socket).mode & 0o777, 0o600);
    const umask = process.umask(0o022);
    process.umask(umask);
    assert.equal(umask, umaskBefore);
  });

  test("healthz, readyz and status", async () => {
    assert.deepEqual(await get(socket, "/healthz"), { status: 200, type: "text/plain; charset=utf-8", allow: undefined, body: "ok\n" });
    assert.deepEqual(await get(socket, "/readyz"), { status: 200, type: "text/plain; charset=utf-8", allow: undefined, body: "ready\n" });
    const status = await get(socket, "/status?verbose=1");
    assert.equal(status.status, 200);
    assert.equal(status.type, "application/json");
    assert.deepEqual(JSON.parse(status.body), base);

    source.current = { ...base, ready: false, readiness: { lease: false, backend: true, subnetFile: false } };
    try {
      assert.deepEqual(await get(socket, "/readyz"), { status: 503, type: "text/plain; charset=utf-8", allow: undefined, body: "not ready: lease, subnetFile\n" });
    } finally {
      source.current = base;
    }
  });

  test("ipam: usage of the node subnet; 503 before a lease; a damaged store named", async () => {
    const ipam = await get(socket, "/ipam");
    assert.equal(ipam.status, 200);
    assert.deepEqual(JSON.parse(ipam.body), {
      subnet: "10.244.1.0/24",
      capacity: 253,
      used: 2,
      free: 251,
      pods: [
        { ip: "10.244.1.2", pod: "default/web", containerId: "c2", ifname: "eth0" },
        { ip: "10.244.1.3", pod: "default/db", containerId: "c3", ifname: "eth0" },
      ],
    });
    source.current = { ...base, subnet: null, gateway: null };
    try {
      const none = await get(socket, "/ipam");
      assert.equal(none.status, 503);
      assert.deepEqual(JSON.parse(none.body), { code: "NO_SUBNET", message: "node1 holds no subnet lease yet, so it has no pod addresses", hint: "wait until /readyz answers ready" });
    } finally {
      source.current = base;
    }
    writeIpam(ipamDir, "{not json");
    try {
      const damaged = await get(socket, "/ipam");
      assert.equal(damaged.status, 500);
      const body = JSON.parse(damaged.body) as { code: string; message: string };
      assert.equal(body.code, "IPAM_STORE_INVALID");
      assert.ok(body.message.includes(storeFile(ipamDir)));
      const metrics = await get(socket, "/metrics");
      assert.equal(metrics.status, 200, "a damaged store does not take /metrics down");
      assert.doesNotMatch(metrics.body, /weft_ipam/);
    } finally {
      writeIpam(ipamDir);
    }
  });

  test("metrics in the Prometheus text format", async () => {
    const m = await get(socket, "/metrics");
    assert.equal(m.status, 200);
    assert.equal(m.type, "text/plain; version=0.0.4; charset=utf-8");
    for (const line of ["weft_ready 1", 'weft_ipam_addresses{state="used"} 2', "weft_ipam_capacity 253", 'weft_reconcile_duration_seconds_bucket{le="+Inf"} 3']) {
      assert.ok(m.body.split("\n").includes(line), line);
    }
  });

  test("connections: the source's measurement; its failure is a 500 with the code", async () => {
    const c = await get(socket, "/connections");
    assert.equal(c.status, 200);
    assert.deepEqual(JSON.parse(c.body), CONNECTIONS);
    source.measured = new WeftError("AGENT_NOT_SET_UP", "cannot measure connections on node1", { hint: "wait" });
    try {
      const failed = await get(socket, "/connections");
      assert.equal(failed.status, 500);
      assert.deepEqual(JSON.parse(failed.body), { code: "AGENT_NOT_SET_UP", message: "cannot measure connections on node1", hint: "wait" });
      source.measured = new Error("boom");
      assert.deepEqual(JSON.parse((await get(socket, "/connections")).body), { code: "AGENT_INTERNAL", message: "the agent failed to answer /connections: boom" });
    } finally {
      source.measured = CONNECTIONS;
    }
  });

  test("unknown paths are 404 and other methods 405, with JSON errors", async () => {
    const missing = await get(socket, "/nope");
    assert.equal(missing.status, 404);
    assert.equal(missing.type, "application/json");
    assert.deepEqual(JSON.parse(missing.body), {
      code: "NOT_FOUND",
      message: "the agent has no /nope",
      hint: "it serves /healthz, /readyz, /status, /ipam, /metrics, /policy, /policy/explain, /connections, /services, and POST /policy/pods",
    });
    for (const method of ["POST", "DELETE", "PUT"]) {
      const r = await get(socket, "/status", method);
      assert.equal(r.status, 405, method);
      assert.equal(r.allow, "GET");
      assert.equal((JSON.parse(r.body) as { code: string }).code, "METHOD_NOT_ALLOWED");
    }
  });

  test("the TCP port serves the same routes on loopback only", async () => {
    assert.ok(api.tcpPort !== null && api.tcpPort > 0);
    assert.equal((await get({ port: api.tcpPort }, "/healthz")).body, "ok\n");
    assert.match((await get({ port: api.tcpPort }, "/metrics")).body, /^weft_ready 1$/m);
    // 127.0.0.2 is loopback too, but only a wildcard bind would answer there.
    await assert.rejects(get({ port: api.tcpPort, host: "127.0.0.2" }, "/healthz"), { code: "ECONNREFUSED" });
  });

  test("a second agent on a live socket is AGENT_RUNNING and the first keeps serving", async () => {
    await assert.rejects(startApi(source, { socketPath: socket }), (err: WeftError) => {
      assert.equal(err.code, AGENT_RUNNING);
      assert.equal(err.message, `another weft agent is already serving ${socket}`);
      return true;
    });
    assert.equal((await get(socket, "/healthz")).body, "ok\n");
  });

  test("a stale socket is replaced; a file that is not a socket is left alone", async () => {
    const stale = join(dir, "stale", "agent.sock");
    mkdirSync(dirname(stale));
    leaveStaleSocket(stale);
    const second = await startApi(source, { socketPath: stale });
    opened.push(second);
    assert.equal(statSync(stale).mode & 0o777, 0o600);
    assert.equal((await get(stale, "/healthz")).body, "ok\n");
    await second.close();
    await second.close();
    assert.throws(() => statSync(stale), { code: "ENOENT" });
    assert.equal(second.tcpPort, null);

    const file = join(dir, "stale", "not-a-socket");
    writeFileSync(file, "keep me");
    await assert.rejects(startApi(source, { socketPath: file }), { code: AGENT_SOCKET_PATH_TAKEN });
    assert.equal(statSync(file).size, 7);
  });

  describe("weft status through bin/weft", () => {
    test("summary, peers, ipam and connections as tables", async () => {
      const summary = await weft(["status", "--socket", socket]);
      assert.equal(summary.code, 0, summary.stderr);
      assert.match(summary.stdout, /^ {6}Node: node1$/m);
      assert.match(summary.stdout, /^ {6}IPAM: 2 used, 251 free of 253 in 10\.244\.1\.0\/24$/m);
      assert.match(summary.stdout, /^ {5}Lease: expires 2025-01-01T23:59:30\.000Z \(expired \S+ ago\)$/m);

      const peers = await weft(["status", "peers", "--run-dir", dirname(socket)]);
      assert.equal(peers.code, 0, peers.stderr);
      assert.match(peers.stdout, /^NODE {4}PUBLIC IP {9}SUBNET {10}BACKEND {3}STATE\nnode1 .* self\nnode2 .* programmed\nnode3 .* problem: PEER_INVALID\n\nnode3: its vtepMac/);

      const ipam = await weft(["status", "ipam", "--socket", socket]);
      assert.equal(ipam.stdout, "NODE    SUBNET          USED   FREE   PODS\nnode1   10.244.1.0/24   2      251    default/web,default/db\nnode2   10.244.2.0/24   -      -      -\nnode3   10.244.3.0/24   -      -      -\n");

      const conns = await weft(["status", "connections", "--socket", socket, "-o", "table"]);
      assert.equal(conns.stdout, "PEER    PUBLIC IP         TARGET       STATE       RTT      MTU\nnode2   192.168.125.102   10.244.2.1   reachable   0.31ms   1450 ok\n");
    });

    test("-o json prints the agent's answers as they are", async () => {
      const json = async (...args: string[]) => {
        const r = await weft(["status", ...args, "--socket", socket, "-o", "json"]);
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as unknown;
      };
      assert.deepEqual(await json(), base);
      assert.deepEqual(await json("peers"), base.peers);
      assert.equal((await json("ipam") as { used: number }).used, 2);
      assert.deepEqual(await json("connections"), CONNECTIONS);
    });

    test("errors are one line on stderr with a non-zero exit", async () => {
      const missing = join(dir, "nowhere", "agent.sock");
      const r = await weft(["status", "--socket", missing]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr, `weft: cannot reach the weft agent at ${missing} (connect ENOENT); is it running? start it with "weft agent", or point at it with --run-dir/--socket\n`);
      for (const args of [["status", "bogus"], ["status", "-o", "yaml"], ["status", "--socket", socket, "--run-dir", dir], ["status", "--lab", "x", "--socket", socket]]) {
        const u = await weft(args);
        assert.equal(u.code, 1, args.join(" "));
        assert.match(u.stderr, /^weft: status: .*\n$/, args.join(" "));
      }
    });
  });

  describe("weft status --lab", () => {
    const lab = labLayout(uniqueLabName("st"));
    const node2 = sampleStatus({
      node: "node2",
      publicIp: "192.168.125.102",
      subnet: "10.244.2.0/24",
      gateway: "10.244.2.1",
      peers: [{ ...base.peers[0]!, node: "node1", publicIp: "192.168.125.101", subnet: "10.244.1.0/24" }],
      paths: { ...base.paths, ipamDir: join(dir, "ipam-empty") },
    });

    before(async () => {
      writeLabState(lab, {
        name: lab.name,
        createdAt: new Date().toISOString(),
        backend: "vxlan",
        store: "embedded",
        podCidr: "10.244.0.0/16",
        iface: "eth0",
        scenario: null,
        kubernetes: false,
        nodes: [1, 2, 3].map((k) => ({ name: `node${k}`, index: k, netns: `${lab.name}-node${k}`, underlayIp: `192.168.125.${100 + k}` })),
        daemons: [],
      });
      // node3's agent is down: no socket.
      for (const [node, status] of [["node1", base], ["node2", node2]] as const) {
        const s = new FakeSource(status);
        s.measured = node === "node1" ? CONNECTIONS : [];
        opened.push(await startApi(s, { socketPath: nodePaths(lab, node).agentSocket }));
      }
    });
    after(() => rmSync(lab.dir, { recursive: true, force: true }));

    test("each node's numbers; a node whose agent is down is one line on stderr and exit 1", async () => {
      const r = await weft(["status", "ipam", "--lab", lab.name]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "NODE    SUBNET          USED   FREE   PODS\nnode1   10.244.1.0/24   2      251    default/web,default/db\nnode2   10.244.2.0/24   0      253    -\n");
      assert.equal(r.stderr, `weft: node3: cannot reach the weft agent at ${nodePaths(lab, "node3").agentSocket} (connect ENOENT); is it running? start it with "weft agent", or point at it with --run-dir/--socket\n`);

      const peers = await weft(["status", "peers", "--lab", lab.name]);
      assert.match(peers.stdout, /^NODE {4}PEER {4}PUBLIC IP .*\nnode1 {3}node1 .* self\n(.*\n){2}node2 {3}node2 .* self\nnode2 {3}node1 .* programmed\n/);

      const conns = await weft(["status", "connections", "--lab", lab.name]);
      assert.match(conns.stdout, /^NODE {4}PEER {4}PUBLIC IP .*\nnode1 {3}node2 .* reachable .*1450 ok\n$/);

      const summary = await weft(["status", "--lab", lab.name]);
      assert.match(summary.stdout, /^ {6}Node: node1\n[^]*\n\n {6}Node: node2\n/);
    });

    test("-o json is an array of per-node objects with a node key", async () => {
      const json = async (...args: string[]) => JSON.parse((await weft(["status", ...args, "--lab", lab.name, "-o", "json"])).stdout) as Array<Record<string, unknown>>;
      assert.deepEqual(await json(), [base, node2]);
      assert.deepEqual(await json("peers"), [{ node: "node1", peers: base.peers }, { node: "node2", peers: node2.peers }]);
      assert.deepEqual((await json("ipam")).map((n) => [n.node, n.subnet, n.used]), [["node1", "10.244.1.0/24", 2], ["node2", "10.244.2.0/24", 0]]);
      assert.deepEqual(await json("connections"), [{ node: "node1", connections: CONNECTIONS }, { node: "node2", connections: [] }]);
    });
  });
});
