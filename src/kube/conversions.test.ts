/** The API objects DNS watches, converted to the slim types at the client boundary (dns-services.ts, dns-endpointslices.ts, namespaces.ts, pod-addresses.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fromV1EndpointSlice } from "./dns-endpointslices.ts";
import { fromV1Namespace } from "./namespaces.ts";
import { fromV1PodAddresses } from "./pod-addresses.ts";
import { fromV1Service } from "./dns-services.ts";

test("Services: ClusterIP, dual-stack, headless, ExternalName, API defaults", () => {
  assert.deepEqual(fromV1Service({ metadata: { name: "web", namespace: "shop" }, spec: { clusterIP: "10.96.0.20", ports: [{ port: 80 }] } }), {
    namespace: "shop", name: "web", type: "ClusterIP", clusterIPs: ["10.96.0.20"], headless: false, externalName: null,
    ports: [{ name: "", port: 80, protocol: "TCP" }],
  });
  const dual = fromV1Service({ metadata: { name: "d", namespace: "x" }, spec: { type: "NodePort", clusterIP: "10.96.0.30", clusterIPs: ["10.96.0.30", "fd00::30"], ports: [{ name: "dns", port: 53, protocol: "UDP" }] } });
  assert.deepEqual([dual.type, dual.clusterIPs, dual.ports[0]], ["NodePort", ["10.96.0.30", "fd00::30"], { name: "dns", port: 53, protocol: "UDP" }]);
  const headless = fromV1Service({ metadata: { name: "db", namespace: "x" }, spec: { clusterIP: "None", clusterIPs: ["None"] } });
  assert.deepEqual([headless.headless, headless.clusterIPs], [true, []]);
  const ext = fromV1Service({ metadata: { name: "e", namespace: "x" }, spec: { type: "ExternalName", externalName: "www.example.org" } });
  assert.deepEqual([ext.type, ext.externalName, ext.headless, ext.clusterIPs], ["ExternalName", "www.example.org", false, []]);
});

test("EndpointSlices: the owning Service from its label, absent conditions as the API documents them", () => {
  const s = fromV1EndpointSlice({
    metadata: { name: "db-1", namespace: "x", labels: { "kubernetes.io/service-name": "db" } },
    addressType: "IPv4",
    endpoints: [
      { addresses: ["10.244.1.5"], hostname: "db-0", nodeName: "n1" },
      { addresses: ["10.244.1.6"], conditions: { ready: false, serving: true, terminating: true } },
    ],
    ports: [{ name: "pg", port: 5432 }, { port: undefined }],
  });
  assert.equal(s.service, "db");
  assert.deepEqual(s.endpoints[0], { addresses: ["10.244.1.5"], ready: true, serving: true, terminating: false, hostname: "db-0", nodeName: "n1" });
  assert.deepEqual(s.endpoints[1], { addresses: ["10.244.1.6"], ready: false, serving: true, terminating: true, hostname: null, nodeName: null });
  assert.deepEqual(s.ports, [{ name: "pg", port: 5432, protocol: "TCP" }, { name: "", port: null, protocol: "TCP" }]);
  assert.equal(fromV1EndpointSlice({ metadata: { name: "orphan", namespace: "x" }, addressType: "IPv6", endpoints: [] }).service, null);
});

test("Namespaces and pod addresses", () => {
  assert.deepEqual(fromV1Namespace({ metadata: { name: "kube-system" } }), { name: "kube-system" });
  assert.deepEqual(fromV1PodAddresses({ metadata: { name: "p", namespace: "x" }, status: { podIP: "10.244.1.9", podIPs: [{ ip: "10.244.1.9" }, { ip: "fd00::9" }] } }).ips, ["10.244.1.9", "fd00::9"]);
  assert.deepEqual(fromV1PodAddresses({ metadata: { name: "p", namespace: "x" }, status: { podIP: "10.244.1.9" } }).ips, ["10.244.1.9"]);
  assert.deepEqual(fromV1PodAddresses({ metadata: { name: "p", namespace: "x" } }).ips, []);
});
