/**
 * `weft dns` as a user runs it (bin/weft, the bundle): against a stand-in
 * API server on loopback, it answers the seed's query, serves /ready, and
 * stops cleanly on SIGTERM; bad input is one line and exit 1.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../lib/root.ts";
import { ask, clusterObjects, sections, startFakeApiServer } from "../../dns/testing.ts";
import { until } from "../../../test/support/until.ts";

const WEFT = join(ROOT, "bin/weft");

test("weft dns --config FILE --kubeconfig FILE serves the cluster zone and stops on SIGTERM", async () => {
  const api = await startFakeApiServer(clusterObjects());
  const dir = mkdtempSync(join(tmpdir(), "weft-dns-cli-"));
  const config = join(dir, "config.yaml");
  writeFileSync(config, "listen: 127.0.0.1\nport: 0\nhttpPort: 0\nupstreams: []\n");
  const child = spawn(WEFT, ["dns", "--config", config, "--kubeconfig", api.kubeconfig], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  try {
    const [, port, httpPort] = await until("weft dns to listen", () => /on 127\.0\.0\.1:(\d+) \(udp, tcp\), http :(\d+)/.exec(stderr) ?? undefined, 20_000);
    const r = await until("kube-dns to resolve", async () => {
      const a = await ask(Number(port), "kube-dns.kube-system.svc.cluster.local", "A");
      return a.rcode === "NOERROR" ? a : undefined;
    }, 10_000);
    assert.deepEqual(sections(r.packet).answer, ["kube-dns.kube-system.svc.cluster.local 5 A 10.96.0.10"]);
    assert.equal((await fetch(`http://127.0.0.1:${httpPort}/ready`)).status, 200);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
  } finally {
    child.kill("SIGKILL");
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("weft dns with a bad config or kubeconfig: one line on stderr, exit 1", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-dns-cli-"));
  try {
    const config = join(dir, "config.yaml");
    writeFileSync(config, "ttl: forever\n");
    const bad = spawnSync(WEFT, ["dns", "--config", config], { encoding: "utf8" });
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr, `weft: ${config}: "ttl" is "forever": expected an integer from 0 to 3600\n`);
    writeFileSync(config, "upstreams: []\n");
    const noKube = spawnSync(WEFT, ["dns", "--config", config, "--kubeconfig", join(dir, "missing")], { encoding: "utf8" });
    assert.equal(noKube.status, 1);
    assert.match(noKube.stderr, /^weft: cannot load kubeconfig .*missing: .*; give --kubeconfig FILE, or run inside a pod with a service account\n$/);
    const flag = spawnSync(WEFT, ["dns", "--nope"], { encoding: "utf8" });
    assert.equal(flag.status, 1);
    assert.match(flag.stderr, /^weft: dns: Unknown option '--nope'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
