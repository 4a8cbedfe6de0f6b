import { test } from "node:test";
import assert from "node:assert/strict";
import { podHosts, podResolvConf } from "./dns-files.ts";

const base = { namespace: "demo", clusterDns: "10.96.0.10", clusterDomain: "cluster.local", nodeResolvConf: "nameserver 192.168.125.1\n" };
const CLUSTER = "search demo.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n";

test("resolv.conf per dnsPolicy, as kubelet writes it", () => {
  for (const [dnsPolicy, hostNetwork, want] of [
    ["ClusterFirst", false, CLUSTER],
    ["ClusterFirst", true, base.nodeResolvConf],
    ["ClusterFirstWithHostNet", true, CLUSTER],
    ["ClusterFirstWithHostNet", false, CLUSTER],
    ["Default", false, base.nodeResolvConf],
    ["None", false, ""],
  ] as const) {
    assert.equal(podResolvConf({ ...base, dnsPolicy, hostNetwork }), want, `${dnsPolicy} hostNetwork=${hostNetwork}`);
  }
});

test("hosts names the pod at its IP, with the FQDN under a subdomain", () => {
  const plain = podHosts({ ip: "10.244.1.5", hostname: "web-1", subdomain: null, namespace: "demo", clusterDomain: "cluster.local" });
  assert.match(plain, /^127\.0\.0\.1\tlocalhost$/m);
  assert.match(plain, /^10\.244\.1\.5\tweb-1$/m);
  const sub = podHosts({ ip: "10.244.1.5", hostname: "web-1", subdomain: "web", namespace: "demo", clusterDomain: "cluster.local" });
  assert.match(sub, /^10\.244\.1\.5\tweb-1\.web\.demo\.svc\.cluster\.local\tweb-1$/m);
  assert.doesNotMatch(podHosts({ ip: null, hostname: "n", subdomain: null, namespace: "d", clusterDomain: "cluster.local" }), /\tn$/m);
});
