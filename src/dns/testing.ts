/**
 * Test helpers for `weft dns`: a client that asks a server over UDP or TCP
 * with dns-packet, a record formatter for table-driven expectations, a
 * fake upstream resolver on loopback, and the objects of a small cluster.
 */
import * as packet from "dns-packet";
import type { Answer, DecodedPacket } from "dns-packet";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type ServerResponse } from "node:http";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Service } from "../kube/dns-services.ts";
import type { EndpointSlice } from "../kube/dns-endpointslices.ts";
import type { DnsSnapshot } from "./source.ts";
import { rcodeOf } from "./forward.ts";

export interface AskOptions {
  tcp?: boolean;
  /** Send an EDNS0 OPT record with this UDP size. Default: none. */
  udpSize?: number;
  ednsVersion?: number;
  klass?: string;
  timeoutMs?: number;
}

export interface Reply {
  packet: DecodedPacket;
  rcode: string;
  /** Bytes of the message (without the TCP length prefix). */
  size: number;
}

/** Asks 127.0.0.1:`port` one question. */
export async function ask(port: number, name: string, type: string, o: AskOptions = {}): Promise<Reply> {
  const id = Math.floor(Math.random() * 65536);
  const query = packet.encode({
    type: "query",
    id,
    flags: packet.RECURSION_DESIRED,
    questions: [{ name, type: type as never, class: (o.klass ?? "IN") as never }],
    additionals: o.udpSize === undefined ? [] : [{ type: "OPT", name: ".", udpPayloadSize: o.udpSize, ednsVersion: o.ednsVersion ?? 0, flags: 0 } as never],
  });
  const raw = o.tcp ? await askTcp(port, query, o.timeoutMs ?? 3000) : await askUdp(port, query, o.timeoutMs ?? 3000);
  const p = packet.decode(raw);
  if (p.id !== id) throw new Error(`reply id ${p.id} is not the query's ${id}`);
  return { packet: p, rcode: rcodeOf(p), size: raw.length };
}

/** Sends raw bytes over UDP and returns the first reply (or null after `timeoutMs`). */
export function askUdpRaw(port: number, msg: Buffer, timeoutMs = 1000): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    const timer = setTimeout(() => (s.close(), resolve(null)), timeoutMs);
    s.on("message", (m) => (clearTimeout(timer), s.close(), resolve(m)));
    s.on("error", (e) => (clearTimeout(timer), s.close(), reject(e)));
    s.send(msg, port, "127.0.0.1");
  });
}

async function askUdp(port: number, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  const r = await askUdpRaw(port, msg, timeoutMs);
  if (r === null) throw new Error(`no UDP reply from 127.0.0.1:${port} in ${timeoutMs} ms`);
  return r;
}

function askTcp(port: number, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => (c.destroy(), reject(new Error(`no TCP reply from 127.0.0.1:${port}`))), timeoutMs);
    let buf = Buffer.alloc(0);
    c.on("connect", () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      c.write(Buffer.concat([len, msg]));
    });
    c.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(timer);
        c.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
    c.on("error", (e) => (clearTimeout(timer), reject(e)));
  });
}

/** One record as text: "name ttl TYPE data" (SOA: "mname rname minimum"; OPT records left out by the callers). */
export function rr(a: Answer): string {
  const ttl = (a as { ttl?: number }).ttl;
  switch (a.type) {
    case "SRV":
      return `${a.name} ${ttl} SRV ${a.data.priority} ${a.data.weight} ${a.data.port} ${a.data.target}`;
    case "SOA":
      return `${a.name} ${ttl} SOA ${a.data.mname} ${a.data.rname} ${a.data.minimum}`;
    case "TXT":
      return `${a.name} ${ttl} TXT ${(Array.isArray(a.data) ? a.data : [a.data]).map((d) => `"${d.toString()}"`).join(" ")}`;
    case "OPT":
      return "OPT";
    default:
      return `${a.name} ${ttl} ${a.type} ${String((a as { data: unknown }).data)}`;
  }
}

/** The records of a reply's sections, as rr() text (OPT left out). */
export function sections(p: DecodedPacket): { answer: string[]; authority: string[]; additional: string[] } {
  const text = (list: Answer[] | undefined) => (list ?? []).filter((a) => a.type !== "OPT").map(rr);
  return { answer: text(p.answers), authority: text(p.authorities), additional: text(p.additionals) };
}

export interface FakeUpstream {
  port: number;
  /** Questions received, "name TYPE" (UDP and TCP). */
  asked: string[];
  /** The source ports UDP questions came from. */
  sourcePorts: Set<number>;
  close(): Promise<void>;
}

/** What the fake upstream answers a question: rcode and sections, or "drop" to stay silent. */
export type UpstreamAnswer = { rcode?: string; answers?: Answer[]; authorities?: Answer[]; truncateOverUdp?: boolean } | "drop";

/**
 * A resolver on 127.0.0.1 (UDP and TCP on one port) answering from
 * `answer(name, type)`; a truncateOverUdp answer comes back over UDP empty
 * with TC set, and in full over TCP.
 */
export async function startFakeUpstream(answer: (name: string, type: string) => UpstreamAnswer): Promise<FakeUpstream> {
  const asked: string[] = [];
  const sourcePorts = new Set<number>();
  const respond = (msg: Buffer, tcp: boolean): Buffer | null => {
    const q = packet.decode(msg);
    const question = q.questions![0]!;
    asked.push(`${question.name} ${question.type}`);
    const a = answer(question.name, question.type);
    if (a === "drop") return null;
    const truncated = !tcp && a.truncateOverUdp === true;
    return packet.encode({
      type: "response",
      id: q.id,
      flags: packet.RECURSION_AVAILABLE | packet.RECURSION_DESIRED | (truncated ? packet.TRUNCATED_RESPONSE : 0) | rcodeNumber(a.rcode ?? "NOERROR"),
      questions: [question],
      answers: truncated ? [] : (a.answers ?? []),
      authorities: truncated ? [] : (a.authorities ?? []),
    });
  };
  const udp = createSocket("udp4");
  udp.on("message", (m, r) => {
    sourcePorts.add(r.port);
    const out = respond(m, false);
    if (out) udp.send(out, r.port, r.address);
  });
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", r));
  const port = udp.address().port;
  const tcp: Server = createServer((c) => {
    let buf = Buffer.alloc(0);
    c.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const out = respond(buf.subarray(2, 2 + buf.readUInt16BE(0)), true);
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        if (!out) continue;
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length);
        c.write(Buffer.concat([len, out]));
      }
    });
    c.on("error", () => {});
  });
  await new Promise<void>((r) => tcp.listen(port, "127.0.0.1", r));
  return {
    port,
    asked,
    sourcePorts,
    close: () => Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]).then(() => {}),
  };
}

function rcodeNumber(name: string): number {
  return { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 }[name] ?? 2;
}

/** A ClusterIP service with the given ports ("name/port/PROTO", name may be empty). */
export function service(namespace: string, name: string, clusterIPs: string[], ports: string[] = []): Service {
  return {
    namespace,
    name,
    type: "ClusterIP",
    clusterIPs,
    headless: false,
    externalName: null,
    ports: ports.map((p) => {
      const [n, port, proto] = p.split("/") as [string, string, string];
      return { name: n, port: Number(port), protocol: proto as "TCP" };
    }),
  };
}

/** The cluster of the table tests: kube-dns as the seed's, services of every kind. */
export function sampleCluster(): DnsSnapshot {
  const headless: Service = { ...service("default", "db", [], ["pg/5432/TCP"]), headless: true };
  const dbSlice: EndpointSlice = {
    namespace: "default",
    name: "db-abc",
    service: "db",
    addressType: "IPv4",
    ports: [{ name: "pg", port: 5432, protocol: "TCP" }],
    endpoints: [
      { addresses: ["10.244.1.5"], ready: true, serving: true, terminating: false, hostname: "db-0", nodeName: "node1" },
      { addresses: ["10.244.2.6"], ready: true, serving: true, terminating: false, hostname: null, nodeName: "node2" },
      { addresses: ["10.244.3.7"], ready: false, serving: false, terminating: false, hostname: "db-2", nodeName: "node3" },
    ],
  };
  const dbSlice6: EndpointSlice = {
    ...dbSlice,
    name: "db-v6",
    addressType: "IPv6",
    endpoints: [{ addresses: ["fd00:10:244:1::5"], ready: true, serving: true, terminating: false, hostname: "db-0", nodeName: "node1" }],
  };
  const notReady: Service = { ...service("default", "starting", [], ["http/80/TCP"]), headless: true };
  const notReadySlice: EndpointSlice = {
    namespace: "default",
    name: "starting-1",
    service: "starting",
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints: [{ addresses: ["10.244.1.9"], ready: false, serving: false, terminating: true, hostname: null, nodeName: "node1" }],
  };
  return {
    namespaces: ["default", "kube-system", "quiet"],
    services: [
      service("kube-system", "kube-dns", ["10.96.0.10"], ["dns/53/UDP", "dns-tcp/53/TCP", "metrics/9153/TCP"]),
      service("default", "kubernetes", ["10.96.0.1"], ["https/443/TCP"]),
      service("default", "web", ["10.96.0.20"], ["http/80/TCP", "/8080/TCP"]),
      service("default", "dual", ["10.96.0.30", "fd00:96::30"], ["http/80/TCP"]),
      service("default", "six", ["fd00:96::40"], []),
      headless,
      notReady,
      { ...service("default", "ext", [], []), type: "ExternalName", externalName: "www.example.org" },
      { ...service("default", "alias", [], []), type: "ExternalName", externalName: "web.default.svc.cluster.local" },
    ],
    endpointSlices: [dbSlice, dbSlice6, notReadySlice],
    pods: [{ namespace: "default", name: "web-1", ips: ["10.244.1.20"] }],
  };
}

/** The API kinds the fake API server serves: path → list kind. */
const KINDS: Record<string, { kind: string; apiVersion: string }> = {
  "/api/v1/services": { kind: "ServiceList", apiVersion: "v1" },
  "/apis/discovery.k8s.io/v1/endpointslices": { kind: "EndpointSliceList", apiVersion: "discovery.k8s.io/v1" },
  "/api/v1/namespaces": { kind: "NamespaceList", apiVersion: "v1" },
  "/api/v1/pods": { kind: "PodList", apiVersion: "v1" },
};

/** API objects (as the API server sends them) of kube-dns and a headless db with one ready endpoint. */
export function clusterObjects(): Record<string, object[]> {
  return {
    "/api/v1/services": [
      {
        metadata: { name: "kube-dns", namespace: "kube-system", resourceVersion: "1" },
        spec: { type: "ClusterIP", clusterIP: "10.96.0.10", clusterIPs: ["10.96.0.10"], ports: [{ name: "dns", port: 53, protocol: "UDP" }, { name: "dns-tcp", port: 53, protocol: "TCP" }] },
      },
      { metadata: { name: "db", namespace: "default", resourceVersion: "1" }, spec: { clusterIP: "None", clusterIPs: ["None"], ports: [{ name: "pg", port: 5432 }] } },
    ],
    "/apis/discovery.k8s.io/v1/endpointslices": [
      {
        metadata: { name: "db-x1", namespace: "default", labels: { "kubernetes.io/service-name": "db" }, resourceVersion: "1" },
        addressType: "IPv4",
        endpoints: [{ addresses: ["10.244.1.5"], hostname: "db-0", conditions: { ready: true } }, { addresses: ["10.244.1.6"], conditions: { ready: false } }],
        ports: [{ name: "pg", port: 5432, protocol: "TCP" }],
      },
    ],
    "/api/v1/namespaces": [{ metadata: { name: "default", resourceVersion: "1" } }, { metadata: { name: "kube-system", resourceVersion: "1" } }],
    "/api/v1/pods": [{ metadata: { name: "web-1", namespace: "default", resourceVersion: "1" }, status: { podIP: "10.244.1.20", podIPs: [{ ip: "10.244.1.20" }] } }],
  };
}

export interface FakeApiServer {
  /** A kubeconfig file that points at it. */
  kubeconfig: string;
  /** Sends a watch event to every open watch of `path`. */
  send(path: string, type: "ADDED" | "MODIFIED" | "DELETED" | "ERROR", object: object): void;
  /** How many kinds have an open watch. */
  watching(): number;
  /** Ends every open watch stream, as an API server does when a watch times out. */
  dropWatches(): void;
  close(): Promise<void>;
}

/**
 * A stand-in for the API server on loopback (plain HTTP): lists of the
 * given objects (as they are at each list: the test may change them), and
 * watch streams (one JSON event per line) that send what the test sends,
 * opened with the objects themselves when asked (sendInitialEvents).
 * Enough for src/kube/informers.ts on @kubernetes/client-node.
 */
export async function startFakeApiServer(objects: Record<string, object[]>): Promise<FakeApiServer> {
  const watchers = new Map<string, ServerResponse[]>();
  const api = createHttpServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const kind = KINDS[url.pathname];
    if (!kind || !objects[url.pathname]) return void res.writeHead(404).end();
    if (url.searchParams.get("watch") === "true") {
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders();
      if (url.searchParams.get("sendInitialEvents") === "true") {
        // A streaming list (client-go's WatchList, which CoreDNS uses): every object, then the bookmark that ends them.
        const single = { apiVersion: kind.apiVersion, kind: kind.kind.replace(/List$/, "") };
        for (const o of objects[url.pathname]!) res.write(JSON.stringify({ type: "ADDED", object: { ...single, ...o } }) + "\n");
        const end = { ...single, metadata: { resourceVersion: "1", annotations: { "k8s.io/initial-events-end": "true" } } };
        res.write(JSON.stringify({ type: "BOOKMARK", object: end }) + "\n");
      }
      watchers.set(url.pathname, [...(watchers.get(url.pathname) ?? []), res]);
      req.on("close", () => watchers.set(url.pathname, (watchers.get(url.pathname) ?? []).filter((w) => w !== res)));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ...kind, metadata: { resourceVersion: "1" }, items: objects[url.pathname] }));
  });
  await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
  const port = (api.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), "weft-dns-api-"));
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, [
    "apiVersion: v1", "kind: Config", "current-context: t",
    `clusters: [{name: t, cluster: {server: 'http://127.0.0.1:${port}', insecure-skip-tls-verify: true}}]`,
    "users: [{name: t, user: {token: x}}]",
    "contexts: [{name: t, context: {cluster: t, user: t}}]",
  ].join("\n"));
  return {
    kubeconfig,
    send(path, type, object) {
      const kind = KINDS[path]!;
      for (const w of watchers.get(path) ?? []) w.write(JSON.stringify({ type, object: { apiVersion: kind.apiVersion, kind: kind.kind.replace(/List$/, ""), ...object } }) + "\n");
    },
    watching: () => [...watchers.values()].filter((w) => w.length > 0).length,
    dropWatches() {
      for (const ws of watchers.values()) for (const w of ws) w.end();
      watchers.clear();
    },
    async close() {
      for (const ws of watchers.values()) for (const w of ws) w.destroy();
      api.closeAllConnections();
      await new Promise<void>((r) => api.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
