// NetworkPolicy end to end in a lab with its control plane, through the real
// kubectl: pods made with kubectl apply on two nodes, policies
// applied as YAML. Default-deny ingress in a namespace, then an allow from a
// podSelector, probed within a node and across nodes; weft trace naming the
// policy and rule that allow, or the policies that drop; a new pod under a
// default-deny that is never reachable nor reaches out from its first moment
// (the CNI plugin's ADD programs it before its containers start). One lab is
// shared by the tests of a file (lab-policy.test.ts for vxlan,
// lab-policy-hostgw.test.ts for host-gw); they run in order.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { labLayout, nodeNs, podNs } from "../../src/lab/layout.ts";
import { inNetns, REAL_AGENT, uniqueLabName, weft, weftOk } from "../../src/lab/testing.ts";
import { until } from "../support/until.ts";

const skip = process.getuid?.() !== 0 ? "needs root" : false;
const POLPROBE = join(import.meta.dirname, "../../build/polprobe");

/** Kills a probe started detached, with every process of its group. */
function stopGroup(p: ChildProcess): void {
  try {
    process.kill(-p.pid!, "SIGKILL");
  } catch {
    // already gone
  }
}

interface PodJson {
  metadata: { name: string; namespace: string };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string };
}

/** The suite, in a lab of `backend`. */
export function labPolicySuite(backend: "vxlan" | "host-gw"): void {
  describe(`network policy in a lab through kubectl (${backend})`, { skip, timeout: 600_000 }, () => {
    const name = uniqueLabName(backend === "vxlan" ? "pol" : "polgw");
    const lab = labLayout(name);
    const kubectl = (...args: string[]) => weft(["lab", "kubectl", "--name", name, "--", ...args], REAL_AGENT);
    const kubectlOk = async (...args: string[]) => {
      const r = await kubectl(...args);
      assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };
    let manifests = 0;
    /** kubectl apply of YAML text. */
    const apply = async (yaml: string) => {
      const file = join(lab.dir, `manifest-${++manifests}.yaml`);
      writeFileSync(file, yaml);
      await kubectlOk("apply", "-f", file);
    };
    const ips = new Map<string, string>();
    /** Does pod `ns/from` get a greeting from `ip`:`port` within `timeoutMs`? (polprobe in the pod's network namespace, which the lab kubelet made.) */
    const reaches = async (from: string, ip: string, ns = "pe", port = 80, timeoutMs = 1500) => {
      const target = `tcp:${ip}:${port}`;
      const out = await new Promise<string>((resolve) => execFile("ip", ["netns", "exec", podNs(lab, `${ns}.${from}`), POLPROBE, "probe", String(timeoutMs), target], { encoding: "utf8" }, (_err, stdout) => resolve(stdout)));
      try {
        return (JSON.parse(out) as Record<string, boolean>)[target] === true;
      } catch {
        return false;
      }
    };
    const CLIENTS = ["c1", "c2", "o1", "o2"];
    /** Which clients reach server s, as "c1 c2" (sorted). */
    const reachingS = async (timeoutMs = 1500) => {
      const r = await Promise.all(CLIENTS.map((c) => reaches(c, ips.get("s")!, "pe", 80, timeoutMs)));
      return CLIENTS.filter((_, i) => r[i]).join(" ");
    };
    const probes: ChildProcess[] = [];

    before(async () => {
      await weftOk(["lab", "up", "--name", name, "--nodes", "2", "--backend", backend], REAL_AGENT);
      const pod = (ns: string, n: string, node: string, labels: Record<string, string>, container: string) =>
        `apiVersion: v1\nkind: Pod\nmetadata: {name: ${n}, namespace: ${ns}, labels: ${JSON.stringify(labels)}}\nspec:\n  nodeName: ${node}\n  containers:\n  - ${container}\n`;
      const server = `{name: web, image: nginx, ports: [{name: http, containerPort: 80}]}`;
      const client = `{name: c, image: busybox, command: [sleep, "3600"]}`;
      await apply(
        [
          "apiVersion: v1\nkind: Namespace\nmetadata: {name: pe, labels: {team: pe}}\n",
          "apiVersion: v1\nkind: Namespace\nmetadata: {name: open}\n",
          pod("pe", "s", "node1", { app: "s" }, server),
          pod("pe", "c1", "node1", { role: "client" }, client),
          pod("pe", "c2", "node2", { role: "client" }, client),
          pod("pe", "o1", "node1", { role: "other" }, client),
          pod("pe", "o2", "node2", { role: "other" }, client),
          pod("open", "t", "node2", { app: "t" }, server),
        ].join("---\n"),
      );
      const running = await until("6 Running pods with IPs", async () => {
        const items = (JSON.parse(await kubectlOk("get", "pods", "-A", "-o", "json")).items as PodJson[]).filter((p) => ["pe", "open"].includes(p.metadata.namespace));
        return items.length === 6 && items.every((p) => p.status.phase === "Running" && p.status.podIP) ? items : undefined;
      }, 120_000, 500);
      for (const p of running) ips.set(p.metadata.name, p.status.podIP!);
    });
    after(async () => {
      for (const p of probes) stopGroup(p);
      await weft(["lab", "down", "--name", name]);
    });

    test("without a policy every client reaches the server, on its node and across", async () => {
      assert.equal(await until("all four reach s", async () => ((await reachingS()) === "c1 c2 o1 o2" ? true : undefined), 30_000, 500), true);
    });

    test("default-deny ingress in namespace pe: no client reaches s; s still reaches out", async () => {
      await apply("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny, namespace: pe}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n");
      const t0 = Date.now();
      await until("nobody reaches s", async () => ((await reachingS(300)) === "" ? true : undefined), 30_000, 0);
      console.log(`lab-policy: default-deny enforced on both nodes ${Date.now() - t0} ms after kubectl apply returned (probes every ~300 ms)`);
      // Settled: none gets in with a generous timeout either.
      assert.equal(await reachingS(), "");
      // Egress is not isolated: s reaches t in namespace open, on the other node.
      assert.equal(await reaches("s", ips.get("t")!), true);
    });

    test("an allow from a podSelector lets c1 (same node) and c2 (across nodes) in, and only them", async () => {
      await apply(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-clients, namespace: pe}\nspec:\n  podSelector: {matchLabels: {app: s}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {role: client}}}]\n    ports: [{port: http}]\n",
      );
      const t0 = Date.now();
      await until("c1 and c2 reach s", async () => ((await reachingS(300)) === "c1 c2" ? true : undefined), 30_000, 0);
      console.log(`lab-policy: allow-clients enforced ${Date.now() - t0} ms after kubectl apply returned (probes every ~300 ms)`);
      // And the same, again, once settled: o1 and o2 stay out.
      assert.equal(await reachingS(), "c1 c2");
    });

    test("weft trace names the policy and rule that let c2 in, and the policies that keep o1 out", async () => {
      const ok = await weft(["trace", "c2", "s:80", "--lab", name]);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /node1\s+policy ingress TCP 80\s+pe\/s is isolated for ingress; allowed by pe\/allow-clients ingress rule 0 \(TCP http \(80\)\)/);
      assert.match(ok.stdout, /node2\s+policy egress TCP 80\s+pe\/c2 is not isolated for egress/);
      const dropped = await weft(["trace", "o1", "s:80/tcp", "--lab", name]);
      assert.equal(dropped.code, 1, dropped.stdout + dropped.stderr);
      assert.match(dropped.stdout, /✗.*policy ingress TCP 80\s+pe\/s is isolated for ingress by pe\/allow-clients, pe\/default-deny; no rule allows TCP 80 from o1/);
      const json = JSON.parse((await weft(["trace", "o2", "s", "--lab", name, "-o", "json"])).stdout) as { hops: { what: string; status: string }[] };
      assert.equal(json.hops.find((h) => h.what === "policy ingress")?.status, "broken");
    });

    test("weft doctor finds each node's policy table matching its agent, and points out the pods a default deny shuts", async () => {
      const r = await weft(["doctor", "--lab", name, "-o", "json"]);
      const text = JSON.stringify(JSON.parse(r.stdout));
      const findings = [...text.matchAll(/\{"node":"(node\d)","check":"policy","status":"(\w+)","message":"([^"]*)"/g)].map((m) => ({ node: m[1], status: m[2], message: m[3]! }));
      assert.equal(findings.length, 2, r.stdout);
      for (const f of findings) {
        assert.equal(f.status, "warn", f.message);
        assert.match(f.message, /^table inet weft-policy matches: \d+ pods, \d+ isolated, 2 policies; isolated with no rule allowing anything: /);
      }
      assert.match(findings.find((f) => f.node === "node1")!.message, /pe\/c1 \(ingress: pe\/default-deny\)/);
      assert.doesNotMatch(findings.find((f) => f.node === "node1")!.message, /pe\/s /);
    });

    test("a new pod under a default-deny is never reachable and never reaches out, from its first moment", async () => {
      await apply(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: iso}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, namespace: iso}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n",
      );
      // From t (namespace open, node2), probe port 8080 of every address node1's pods can have, 300 ms a round, from before the pod exists.
      const podCidr = (await kubectlOk("get", "node", "node1", "-o", "jsonpath={.spec.podCIDR}")).trim();
      const base = podCidr.split(".").slice(0, 3).join(".");
      const targets = Array.from({ length: 60 }, (_, i) => `tcp:${base}.${i + 2}:8080`);
      const ingressLog = join(lab.dir, "ingress-probe.log");
      const probe = spawn("sh", ["-c", `while :; do ip netns exec ${podNs(lab, "open.t")} ${POLPROBE} probe 300 ${targets.join(" ")}; done >${ingressLog}`], { stdio: "ignore", detached: true });
      probes.push(probe);
      await until("the probe runs", async () => (readFileSync(ingressLog, "utf8").includes("}") ? true : undefined), 10_000, 100);
      // And on node1 itself, in the order the kernel saw it: the policy table learns the pod's address (nft monitor) before the pod's veth exists (ip monitor).
      const orderLog = join(lab.dir, "order.log");
      const order = spawn("sh", ["-c", `exec ip netns exec ${nodeNs(lab, "node1")} sh -c 'nft monitor & ip -o monitor link & wait' >${orderLog}`], { stdio: "ignore", detached: true });
      probes.push(order);
      const vethsBefore = new Set([...(await inNetns(nodeNs(lab, "node1"), ["ip", "-o", "link", "show", "type", "veth"])).matchAll(/\b(veth\w+)@/g)].map((m) => m[1]!));
      await new Promise((r) => setTimeout(r, 500));
      // The new pod, fresh, serves 8080 and, from its first instant, tries to reach t.
      const script = `${POLPROBE} serve fresh 8080 & for i in $(seq 100); do ${POLPROBE} probe 300 tcp:${ips.get("t")}:80; done; wait`;
      await apply(`apiVersion: v1\nkind: Pod\nmetadata: {name: fresh, namespace: iso, labels: {app: fresh}}\nspec:\n  nodeName: node1\n  containers:\n  - {name: c, image: busybox, command: [sh, -c, ${JSON.stringify(script)}]}\n`);
      const ip = await until("fresh Running with an IP", async () => {
        const p = JSON.parse(await kubectlOk("get", "pod", "-n", "iso", "fresh", "-o", "json")) as PodJson;
        return p.status.phase === "Running" && p.status.podIP ? p.status.podIP : undefined;
      }, 60_000, 200);
      const lines = readFileSync(orderLog, "utf8").split("\n");
      const programmed = lines.findIndex((l) => l.includes("add element inet weft-policy") && l.includes(`${ip} :`));
      const veth = lines.findIndex((l) => {
        const m = /\b(veth\w+)@/.exec(l);
        return m !== null && !vethsBefore.has(m[1]!);
      });
      assert.ok(programmed >= 0 && veth >= 0, `node1 saw no element for ${ip} or no new veth:\n${lines.join("\n")}`);
      assert.ok(programmed < veth, `the policy table got ${ip} (line ${programmed}) after the pod's veth appeared (line ${veth}):\n${lines.join("\n")}`);
      stopGroup(order);
      // Let both probes run a few seconds past the pod's start.
      await new Promise((r) => setTimeout(r, 4000));
      const egress = (await kubectlOk("logs", "-n", "iso", "fresh")).split("\n").filter((l) => l.startsWith("{"));
      assert.ok(egress.length >= 5, `fresh probed t ${egress.length} times`);
      assert.deepEqual(egress.filter((l) => l.includes("true")), [], "fresh reached t although deny-all isolates it for egress");
      const rounds = readFileSync(ingressLog, "utf8").split("\n").filter((l) => l.startsWith("{"));
      const reachedN = rounds.filter((l) => (JSON.parse(l) as Record<string, boolean>)[`tcp:${ip}:8080`]);
      assert.deepEqual(reachedN, [], `t reached fresh (${ip}) although deny-all isolates it for ingress`);

      // The probes can see fresh: without the policy, both directions open.
      await kubectlOk("delete", "networkpolicy", "-n", "iso", "deny-all");
      await until("t reaches fresh", async () => {
        const last = readFileSync(ingressLog, "utf8").trim().split("\n").at(-1) ?? "{}";
        return (JSON.parse(last.startsWith("{") ? last : "{}") as Record<string, boolean>)[`tcp:${ip}:8080`] ? true : undefined;
      }, 20_000, 300);
      stopGroup(probe);
      await until("fresh reaches t", async () => ((await kubectlOk("logs", "-n", "iso", "fresh")).includes("true") ? true : undefined), 20_000, 500);
    });

    test("the Kubernetes tutorial, as written: nginx behind a Service, busybox's wget --spider --timeout=1, then a policy that only lets access=true in", async () => {
      // kubernetes.io, "Declare Network Policy": the Deployment declares no port, the Service's is 80.
      await kubectlOk("create", "namespace", "tut");
      await kubectlOk("create", "deployment", "nginx", "-n", "tut", "--image=nginx");
      await kubectlOk("expose", "deployment", "nginx", "-n", "tut", "--port=80");
      for (const [n, labels] of [["probe", "app=probe"], ["probe-ok", "access=true"]] as const) {
        await kubectlOk("run", n, "-n", "tut", "--image=busybox:1.28", `--labels=${labels}`, "--restart=Never", "--", "sleep", "3600");
      }
      await until("nginx and the two probes Running", async () => {
        const items = JSON.parse(await kubectlOk("get", "pods", "-n", "tut", "-o", "json")).items as PodJson[];
        return items.length === 3 && items.every((p) => p.status.phase === "Running") ? true : undefined;
      }, 60_000, 500);
      const spider = (from: string) => kubectl("exec", "-n", "tut", from, "--", "wget", "--spider", "--timeout=1", "nginx");
      // The Service's endpoints and its DNS name take a moment after the pods run.
      const open = await until("probe reaches nginx", async () => {
        const r = await spider("probe");
        return r.code === 0 ? r : undefined;
      }, 30_000, 500);
      assert.match(open.stderr + open.stdout, /remote file exists/);

      await apply(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: access-nginx, namespace: tut}\nspec:\n  podSelector: {matchLabels: {app: nginx}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {access: \"true\"}}}]\n",
      );
      // Shut means wget's own timeout, not some other failure (a name not resolved).
      const shut = await until("probe's wget times out", async () => {
        const r = await spider("probe");
        return r.code === 1 && /download timed out/.test(r.stderr) ? r : undefined;
      }, 30_000, 300);
      assert.equal(shut.code, 1, shut.stdout + shut.stderr);
      const allowed = await until("probe-ok reaches nginx", async () => {
        const r = await spider("probe-ok");
        return r.code === 0 ? r : undefined;
      }, 10_000, 300);
      assert.match(allowed.stderr + allowed.stdout, /remote file exists/);
    });
  });
}
