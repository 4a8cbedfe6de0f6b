/**
 * Services for doctor's unit tests, matching the fixtures in fixtures/
 * (rulesets read from a two-node lab with weft's service proxy, and with
 * kube-proxy run beside it in nftables and in iptables mode): default/web
 * at 10.97.192.231:80 with endpoints on node1 and node2, default/empty at
 * 10.106.62.145:80 with none, and default/kubernetes at 10.96.0.1:443.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ServicesStatus } from "../agent/api.ts";
import type { NftRuleset } from "../kernel/nft-ruleset.ts";
import { ROOT } from "../lib/root.ts";
import type { EndpointSlice, Service } from "../proxy/types.ts";
import type { Cluster, NodeFacts } from "./facts.ts";
import { kubeProxyFacts, proxyTableFacts } from "./proxy-facts.ts";

/** A ruleset fixture by file name (fixtures/NAME.json). */
export function rulesetFixture(name: string): NftRuleset {
  return JSON.parse(readFileSync(join(ROOT, "src/doctor/fixtures", `${name}.json`), "utf8")) as NftRuleset;
}

const service = (name: string, ip: string, port: number, portName: string): Service => ({
  namespace: "default", name, type: "ClusterIP", clusterIPs: [ip], externalIPs: [], loadBalancerIngress: [],
  ports: [{ name: portName, protocol: "TCP", port, targetPort: port }],
  sessionAffinity: "None", affinityTimeoutSeconds: 10800, externalTrafficPolicy: "Cluster", internalTrafficPolicy: "Cluster", loadBalancerSourceRanges: [],
});

/** The fixtures' Services. */
export function fixtureServices(): Service[] {
  return [service("kubernetes", "10.96.0.1", 443, "https"), service("web", "10.97.192.231", 80, "http"), service("empty", "10.106.62.145", 80, "")];
}

/** The fixtures' EndpointSlices (`empty` has one with no endpoints, as the controller writes it). */
export function fixtureSlices(): EndpointSlice[] {
  const ep = (address: string, nodeName?: string) => ({ address, ready: true, serving: true, terminating: false, ...(nodeName ? { nodeName } : {}) });
  return [
    { namespace: "default", name: "kubernetes", service: "kubernetes", endpoints: [ep("192.168.125.100")], ports: [{ name: "https", protocol: "TCP", port: 6443 }] },
    { namespace: "default", name: "web-g77sc", service: "web", endpoints: [ep("10.244.0.3", "node1"), ep("10.244.1.2", "node2")], ports: [{ name: "http", protocol: "TCP", port: 8080 }] },
    { namespace: "default", name: "empty-txjmp", service: "empty", endpoints: [], ports: [] },
  ];
}

/** What the agent's /services says for the fixtures' Services. */
export function fixtureServicesStatus(): ServicesStatus {
  const port = (service: string, id: string, dest: string, endpoints: string[]) => ({
    service, id, protocol: "TCP" as const, destinations: [dest], endpoints, localEndpoints: [], internal: endpoints.length ? "forward" as const : "reject" as const, external: "none" as const,
  });
  return {
    synced: true,
    lastSync: null,
    ports: [
      port("default/kubernetes", "default/kubernetes/tcp/https", "10.96.0.1:443", ["192.168.125.100:6443"]),
      port("default/web", "default/web/tcp/http", "10.97.192.231:80", ["10.244.0.3:8080", "10.244.1.2:8080"]),
      port("default/empty", "default/empty/tcp/80", "10.106.62.145:80", []),
    ],
  };
}

/** Makes `node` a node whose proxy runs and whose ruleset is the fixture `ruleset`. */
export function withProxy(node: NodeFacts, ruleset = "ruleset-kube-proxy-nftables"): void {
  const r = rulesetFixture(ruleset);
  node.agent.services = { ok: true, value: fixtureServicesStatus() };
  node.kernel.proxyTable = { ok: true, value: proxyTableFacts(r) };
  node.kernel.kubeProxy = { ok: true, value: kubeProxyFacts(r) };
}

/** Gives `cluster` (fakeKubeCluster) the fixtures' Services and EndpointSlices. */
export function withServices(cluster: Cluster): void {
  if (!cluster.kubernetes?.ok) throw new Error("not a kube cluster");
  cluster.kubernetes.value.services = fixtureServices();
  cluster.kubernetes.value.slices = fixtureSlices();
}
