// The lab's cluster DNS: lab up applies deploy/weft-dns.yaml after the
// add-on, so weft dns runs as two pods behind Service kube-dns at
// 10.96.0.10, which weft's own service proxy translates. Seed 000's three
// queries run as written with dig from a node, a pod resolves a Service by
// its name, a new Service resolves within a second, a pod in `default`
// resolves a Service by each of its four names through its resolv.conf
// search path (glibc's getent and dig +search), a forwarded name whose
// upstream never answers is SERVFAIL before the client gives up, lookups
// survive a DNS pod being deleted, every record kind of the specification
// answers from a node and from a pod, and a deleted Service is NXDOMAIN. One lab is shared by the tests
// of the file.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { REAL_AGENT, uniqueLabName, weft, weftOk } from "../../src/lab/testing.ts";
import { until } from "../support/until.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;

describe("cluster DNS in the lab", { skip, timeout: 300_000 }, () => {
  const name = uniqueLabName("dn");
  const kubectl = (...args: string[]) => weft(["lab", "kubectl", "--name", name, "--", ...args], REAL_AGENT);
  const kubectlOk = async (...args: string[]) => {
    const r = await kubectl(...args);
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const dig = (...args: string[]) => spawnSync("ip", ["netns", "exec", `${name}-node1`, "dig", "@10.96.0.10", "+time=2", "+tries=2", ...args], { encoding: "utf8" }).stdout;
  let upOutput = "";

  before(async () => {
    upOutput = await weftOk(["lab", "up", "--name", name, "--nodes", "2"], REAL_AGENT);
    await until("two Ready weft-dns pods", async () => {
      const pods = JSON.parse(await kubectlOk("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "json")).items as { status: { conditions?: { type: string; status: string }[] } }[];
      return pods.length === 2 && pods.every((p) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
    }, 90_000, 500);
  });
  after(async () => {
    await weft(["lab", "down", "--name", name]);
  });

  test("seed 000's three queries, as written", () => {
    assert.match(upOutput, /applied deploy\/weft-dns\.yaml/);
    assert.match(dig("kube-dns.kube-system.svc.cluster.local"), /^kube-dns\.kube-system\.svc\.cluster\.local\.\s+\d+\s+IN\s+A\s+10\.96\.0\.10$/m);
    const udp = dig("-t", "SRV", "_dns._udp.kube-dns.kube-system.svc.cluster.local");
    assert.match(udp, /^_dns\._udp\.kube-dns\.kube-system\.svc\.cluster\.local\.\s+\d+\s+IN\s+SRV\s+0 100 53 kube-dns\.kube-system\.svc\.cluster\.local\.$/m);
    assert.match(udp, /;; ADDITIONAL SECTION:\nkube-dns\.kube-system\.svc\.cluster\.local\.\s+\d+\s+IN\s+A\s+10\.96\.0\.10/);
    assert.match(dig("-t", "SRV", "_dns-tcp._tcp.kube-dns.kube-system.svc.cluster.local"), /IN\s+SRV\s+0 100 53 kube-dns\.kube-system\.svc\.cluster\.local\./);
  });

  test("a pod resolves a Service through its resolv.conf, and a new Service resolves within a second", async () => {
    await kubectlOk("run", "client", "--image=busybox", "--restart=Never", "--command", "--", "sleep", "3600");
    await until("the client pod Running", async () => (await kubectlOk("get", "pod", "client", "-o", "jsonpath={.status.phase}")) === "Running", 60_000, 300);
    assert.match(await kubectlOk("exec", "client", "--", "cat", "/etc/resolv.conf"), /^nameserver 10\.96\.0\.10$/m);
    assert.match(await kubectlOk("exec", "client", "--", "nslookup", "kubernetes.default.svc.cluster.local"), /Address: 10\.96\.0\.1$/m);
    await kubectlOk("create", "service", "clusterip", "fresh", "--tcp=80:80");
    const ip = await kubectlOk("get", "svc", "fresh", "-o", "jsonpath={.spec.clusterIP}");
    const created = Date.now();
    await until("fresh.default resolving", () => new RegExp(`IN\\s+A\\s+${ip.replace(/\./g, "\\.")}$`, "m").test(dig("fresh.default.svc.cluster.local")), 5_000, 50);
    assert.ok(Date.now() - created < 1_000, `resolved after ${Date.now() - created} ms`);
  });

  test("a pod in default resolves web, web.default, web.default.svc and the full name through its search path: getent hosts and dig +search", async () => {
    // The client pod (busybox) runs on the machine's filesystem with busybox's applets first in
    // PATH; busybox has no getent nor dig, so these are glibc's getent (NSS: files, then dns with
    // the pod's resolv.conf) and BIND's dig, as in a Debian image.
    assert.equal((await kubectlOk("exec", "client", "--", "sh", "-c", "command -v getent; command -v dig")).trim(), "/usr/bin/getent\n/usr/bin/dig");
    const conf = await kubectlOk("exec", "client", "--", "cat", "/etc/resolv.conf");
    assert.match(conf, /^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local$/m);
    assert.match(conf, /^options ndots:5$/m);
    await kubectlOk("create", "service", "clusterip", "web", "--tcp=80:80");
    const ip = (await kubectlOk("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")).trim();
    for (const name of ["web", "web.default", "web.default.svc", "web.default.svc.cluster.local"]) {
      const hosts = await until(`getent hosts ${name}`, async () => {
        const r = await kubectl("exec", "client", "--", "getent", "hosts", name);
        return r.code === 0 && r.stdout;
      }, 10_000, 200);
      assert.match(hosts, new RegExp(`^${ip.replace(/\./g, "\\.")}\\s+web\\.default\\.svc\\.cluster\\.local$`, "m"), `getent hosts ${name}`);
      const dug = await kubectlOk("exec", "client", "--", "dig", "+search", "+time=2", "+tries=2", name);
      assert.match(dug, /status: NOERROR/, `dig +search ${name}`);
      assert.match(dug, new RegExp(`^web\\.default\\.svc\\.cluster\\.local\\.\\s+\\d+\\s+IN\\s+A\\s+${ip.replace(/\./g, "\\.")}$`, "m"), `dig +search ${name}`);
    }
  });

  test("lookups keep working while a DNS pod is deleted", async () => {
    const pod = (await kubectlOk("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "jsonpath={.items[0].metadata.name}")).trim();
    await kubectlOk("delete", "pod", "-n", "kube-system", pod, "--wait=false");
    for (let i = 0; i < 5; i++) assert.match(dig("kubernetes.default.svc.cluster.local"), /IN\s+A\s+10\.96\.0\.1$/m, `lookup ${i}`);
  });

  test("every record kind from a node and from a pod: PTR, NODATA and NXDOMAIN with the SOA, TXT, headless A, SRV and PTR, CNAME, case; a deleted Service is NXDOMAIN", async () => {
    // The answer section of a dig reply, one record a line, whitespace squeezed.
    const answer = (out: string, part = "ANSWER") => {
      const lines = out.split("\n");
      const start = lines.indexOf(`;; ${part} SECTION:`);
      if (start < 0) return [];
      const end = lines.indexOf("", start);
      return lines.slice(start + 1, end < 0 ? undefined : end).map((l) => l.replace(/\s+/g, " "));
    };
    const web = (await kubectlOk("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")).trim();
    await kubectlOk("create", "deployment", "hl", "--image=nginx", "--replicas=2", "--port=80");
    await kubectlOk("create", "service", "clusterip", "hl", "--clusterip=None", "--tcp=80:80");
    await kubectlOk("create", "service", "externalname", "ext", "--external-name=www.example.org");
    await kubectlOk("rollout", "status", "deployment/hl", "--timeout=120s");
    const hlIps = JSON.parse(await kubectlOk("get", "pods", "-l", "app=hl", "-o", "json")).items.map((p: { status: { podIP: string } }) => p.status.podIP).sort() as string[];
    assert.equal(hlIps.length, 2);
    const dashed = hlIps.map((ip) => `${ip.replace(/\./g, "-")}.hl.default.svc.cluster.local.`).sort();
    await until("both headless endpoints answered", () => answer(dig("hl.default.svc.cluster.local")).length === 2, 10_000, 200);

    assert.deepEqual(answer(dig("-x", web)), [`${web.split(".").reverse().join(".")}.in-addr.arpa. 5 IN PTR web.default.svc.cluster.local.`]);
    const nodata = dig("-t", "AAAA", "web.default.svc.cluster.local");
    assert.match(nodata, /status: NOERROR/);
    assert.deepEqual(answer(nodata), []);
    assert.match(answer(nodata, "AUTHORITY")[0] ?? "", /^cluster\.local\. 5 IN SOA /);
    const nx = dig("nothing.default.svc.cluster.local");
    assert.match(nx, /status: NXDOMAIN/);
    assert.match(answer(nx, "AUTHORITY")[0] ?? "", /^cluster\.local\. 5 IN SOA /);
    assert.match(dig("web.no-such-namespace.svc.cluster.local"), /status: NXDOMAIN/);
    assert.deepEqual(answer(dig("-t", "TXT", "dns-version.cluster.local")), ['dns-version.cluster.local. 5 IN TXT "1.1.0"']);
    assert.deepEqual(answer(dig("hl.default.svc.cluster.local")).map((l) => l.split(" ").at(-1)).sort(), hlIps);
    const srv = dig("-t", "SRV", "_80-80._tcp.hl.default.svc.cluster.local");
    assert.deepEqual(answer(srv).map((l) => l.split(" ").at(-1)).sort(), dashed, "one SRV per ready endpoint, its target the endpoint's name");
    assert.equal(answer(srv, "ADDITIONAL").filter((l) => / IN A /.test(l)).length, 2, "each target's A in ADDITIONAL");
    assert.deepEqual(answer(dig("-x", hlIps[0]!)).map((l) => l.split(" ").at(-1)), [dashed[0]]);
    assert.deepEqual(answer(dig("-t", "CNAME", "ext.default.svc.cluster.local")), ["ext.default.svc.cluster.local. 5 IN CNAME www.example.org."]);
    assert.deepEqual(answer(dig("WEB.Default.svc.CLUSTER.local")), [`WEB.Default.svc.CLUSTER.local. 5 IN A ${web}`]);
    // From a pod: the same server through the Service IP, from the pod network.
    assert.equal((await kubectlOk("exec", "client", "--", "dig", "+short", "-x", web)).trim(), "web.default.svc.cluster.local.");
    assert.deepEqual((await kubectlOk("exec", "client", "--", "dig", "+short", "hl.default.svc.cluster.local")).trim().split("\n").sort(), hlIps);
    assert.equal((await kubectlOk("exec", "client", "--", "dig", "+short", "-t", "TXT", "dns-version.cluster.local")).trim(), '"1.1.0"');

    // Deleted: NXDOMAIN within 1 s plus the negative TTL (5 s, the SOA's minimum).
    await kubectlOk("delete", "svc", "fresh", "--wait=false");
    const deleted = Date.now();
    await until("fresh NXDOMAIN", () => /status: NXDOMAIN/.test(dig("fresh.default.svc.cluster.local")), 10_000, 50);
    assert.ok(Date.now() - deleted < 6_000, `NXDOMAIN after ${Date.now() - deleted} ms`);
  });

  // Last: it restarts the DNS pods with an upstream that never answers.
  test("a forwarded name whose upstream never answers is SERVFAIL within the forward deadline (4 s), not silence", async () => {
    // TEST-NET-1 is routed nowhere in the lab: questions to it get no answer. Three upstreams at
    // 2 s a try took 6 s before the forward deadline, past dig's 5 s: the client heard nothing.
    const config = ["zone: cluster.local", "ttl: 5", 'upstreams: ["192.0.2.53", "192.0.2.54", "192.0.2.55"]', "port: 53", "httpPort: 8080", ""].join("\n");
    await kubectlOk("-n", "kube-system", "patch", "configmap", "weft-dns", "--type", "merge", "-p", JSON.stringify({ data: { "config.yaml": config } }));
    await kubectlOk("-n", "kube-system", "rollout", "restart", "deployment", "weft-dns");
    await kubectlOk("-n", "kube-system", "rollout", "status", "deployment", "weft-dns", "--timeout=120s");
    const t0 = Date.now();
    const out = spawnSync("ip", ["netns", "exec", `${name}-node1`, "dig", "@10.96.0.10", "+time=5", "+tries=1", "nothing-answers.example.org"], { encoding: "utf8" }).stdout;
    const ms = Date.now() - t0;
    assert.match(out, /status: SERVFAIL/, out);
    // At the deadline: the upstreams were silent (not refused at once), and the answer still came before dig gave up.
    assert.ok(ms >= 3500 && ms < 5000, `SERVFAIL after ${ms} ms; the deadline is 4 s`);
    // The cluster zone does not depend on the upstream.
    assert.match(dig("kube-dns.kube-system.svc.cluster.local"), /IN\s+A\s+10\.96\.0\.10$/m);
  });
});
