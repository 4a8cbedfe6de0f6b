// The etcd store's own cases against real etcd servers this file starts on
// loopback: etcd going away and coming back, and TLS. What both stores share
// is in store-conformance.test.ts.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WeftError } from "../../src/lib/errors.ts";
import { freePort, startLocalEtcd, type LocalEtcd } from "../../src/store/etcd/server.ts";
import { EtcdStore, type EtcdStoreOptions } from "../../src/store/etcd/store.ts";
import { STORE_UNAVAILABLE, type LeaseAttrs, type LeaseEvent } from "../../src/store/types.ts";
import { until } from "../support/until.ts";

const tmp = mkdtempSync(join(tmpdir(), "weft-store-etcd-"));
const servers: LocalEtcd[] = [];
const stores: EtcdStore[] = [];
after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await Promise.all(servers.map((s) => s.stop("SIGKILL")));
  rmSync(tmp, { recursive: true, force: true });
});

async function start(options: Omit<Parameters<typeof startLocalEtcd>[0], "dataDir">, name: string): Promise<LocalEtcd> {
  const server = await startLocalEtcd({ dataDir: join(tmp, name), ...options });
  servers.push(server);
  return server;
}

function open(options: EtcdStoreOptions): EtcdStore {
  const store = new EtcdStore(options);
  stores.push(store);
  return store;
}

const attrs = (node: string): LeaseAttrs => ({ node, publicIp: "192.168.125.101", backend: "host-gw", backendData: {} });

test("etcd down and back: calls fail fast naming it, the watch resumes, no lease is doubled", async () => {
  const ports = { clientPort: await freePort(), peerPort: await freePort() };
  let etcd = await start(ports, "restart");
  const timeoutMs = 1_000;
  const a = open({ endpoints: [etcd.endpoint], timeoutMs });
  const b = open({ endpoints: [etcd.endpoint], timeoutMs });
  const events: LeaseEvent[] = [];
  const errors: WeftError[] = [];
  open({ endpoints: [etcd.endpoint], timeoutMs }).watch((e) => events.push(e), (err) => errors.push(err));

  await a.createIfAbsent("10.244.1.0/24", attrs("a"), 30);
  await until("the put of 10.244.1.0/24", () => events.length === 1, 3_000);

  await etcd.stop("SIGKILL");
  for (const call of [() => a.list(), () => a.renew("10.244.1.0/24", attrs("a"), 30), () => b.createIfAbsent("10.244.2.0/24", attrs("b"), 30)]) {
    const started = Date.now();
    await assert.rejects(call(), (err: WeftError) => {
      assert.equal(err.code, STORE_UNAVAILABLE);
      assert.equal(err.message, `etcd at ${etcd.endpoint} is unavailable: connection refused`);
      assert.match(err.describe(), /; check that etcd is running/);
      return true;
    });
    assert.ok(Date.now() - started <= timeoutMs, `failed after ${Date.now() - started} ms`);
  }
  await until("the watch to report etcd gone", () => errors.length > 0, 3_000);
  assert.equal(errors[0]!.code, STORE_UNAVAILABLE);

  etcd = await start(ports, "restart"); // the same data directory and ports
  assert.equal(await b.createIfAbsent("10.244.1.0/24", attrs("b"), 30), undefined, "a's lease survived");
  const later = await b.createIfAbsent("10.244.2.0/24", attrs("b"), 30);
  await until("the watch to deliver a put made after the restart", () => events.length === 2, 5_000);
  assert.deepEqual(events[1], { type: "put", lease: later });
  await a.renew("10.244.1.0/24", attrs("a"), 30);
  assert.deepEqual((await b.list()).map((l) => `${l.subnet} ${l.attrs.node}`), ["10.244.1.0/24 a", "10.244.2.0/24 b"]);
  await until("the renewal's put", () => events.length === 3, 2_000);
  assert.deepEqual(events.map((e) => e.type === "put" && `${e.lease.subnet} ${e.lease.attrs.node}`),
    ["10.244.1.0/24 a", "10.244.2.0/24 b", "10.244.1.0/24 a"], "each change once, nothing replayed");
});

describe("TLS", () => {
  const dir = join(tmp, "pki");
  const pem = (name: string): string => join(dir, name);
  let endpoint = "";

  test("with caFile and a client certificate the store works, watch included", async () => {
    makePki(dir);
    const etcd = await start({
      clientPort: await freePort(),
      peerPort: await freePort(),
      tls: { certFile: pem("server.pem"), keyFile: pem("server.key"), clientCaFile: pem("ca.pem") },
    }, "tls");
    endpoint = etcd.endpoint;
    assert.match(endpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
    const store = open({ endpoints: [endpoint], caFile: pem("ca.pem"), certFile: pem("client.pem"), keyFile: pem("client.key"), timeoutMs: 2_000 });
    const events: LeaseEvent[] = [];
    store.watch((e) => events.push(e));
    const lease = await store.createIfAbsent("10.244.3.0/24", attrs("a"), 30);
    assert.deepEqual(await store.list(), [lease]);
    await until("the put over TLS", () => events.length === 1, 3_000);
  });

  test("without caFile it fails saying the certificate is not trusted and to set caFile", async () => {
    await assert.rejects(open({ endpoints: [endpoint], timeoutMs: 2_000 }).list(), (err: WeftError) => {
      assert.equal(err.code, STORE_UNAVAILABLE);
      assert.equal(err.message, `etcd at ${endpoint} is unavailable: TLS: etcd's certificate is signed by an untrusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`);
      assert.match(err.hint ?? "", /^set caFile to the CA that signed etcd's server certificate/);
      return true;
    });
  });

  test("without a client certificate it fails saying to set certFile and keyFile", async () => {
    await assert.rejects(open({ endpoints: [endpoint], caFile: pem("ca.pem"), timeoutMs: 2_000 }).list(), (err: WeftError) => {
      assert.equal(err.code, STORE_UNAVAILABLE);
      assert.match(err.message, /is unavailable: TLS: etcd refused our client certificate/);
      assert.match(err.hint ?? "", /set certFile and keyFile/);
      return true;
    });
  });
});

/** A throw-away CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`. */
function makePki(dir: string): void {
  execFileSync("mkdir", ["-p", dir]);
  const ssl = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  ssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=weft-test-ca");
  // etcd's JSON gateway connects to etcd's own gRPC port with the server
  // certificate, so with --client-cert-auth that certificate must also be
  // good for clients.
  const certs = [["server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"], ["client", "extendedKeyUsage=clientAuth\n"]];
  for (const [name, ext] of certs) {
    writeFileSync(join(dir, `${name}.ext`), ext!);
    ssl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=weft-test-${name}`);
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "1", "-extfile", `${name}.ext`);
  }
}
