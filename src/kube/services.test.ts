import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { V1Service } from "@kubernetes/client-node";
import { fromV1Service, slimV1Service } from "./services.ts";

describe("fromV1Service", () => {
  const cases: { name: string; in: V1Service; want: unknown }[] = [
    {
      name: "ClusterIP with API defaults left out",
      in: { metadata: { namespace: "ns", name: "web" }, spec: { clusterIP: "10.96.0.20", ports: [{ port: 80 }] } },
      want: {
        namespace: "ns", name: "web", type: "ClusterIP", clusterIPs: ["10.96.0.20"], externalIPs: [], loadBalancerIngress: [],
        ports: [{ name: "", protocol: "TCP", port: 80, targetPort: 80 }], sessionAffinity: "None", affinityTimeoutSeconds: 10800,
        externalTrafficPolicy: "Cluster", internalTrafficPolicy: "Cluster", loadBalancerSourceRanges: [],
      },
    },
    {
      name: "LoadBalancer with everything set; IPv6 addresses dropped",
      in: {
        metadata: { namespace: "ns", name: "lb" },
        spec: {
          type: "LoadBalancer", clusterIPs: ["10.96.0.21", "fd00::21"], externalIPs: ["203.0.113.5", "2001:db8::5"],
          ports: [{ name: "http", port: 80, targetPort: "web", nodePort: 30080 }, { name: "dns", port: 53, protocol: "UDP", targetPort: "5353", nodePort: 30053 }],
          sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
          externalTrafficPolicy: "Local", internalTrafficPolicy: "Local", healthCheckNodePort: 32000, loadBalancerSourceRanges: ["10.0.0.0/8"],
        },
        status: { loadBalancer: { ingress: [{ ip: "203.0.113.60" }, { ip: "203.0.113.61", ipMode: "Proxy" }, { hostname: "lb.example" }] } },
      },
      want: {
        namespace: "ns", name: "lb", type: "LoadBalancer", clusterIPs: ["10.96.0.21"], externalIPs: ["203.0.113.5"],
        loadBalancerIngress: [{ ip: "203.0.113.60", ipMode: "VIP" }, { ip: "203.0.113.61", ipMode: "Proxy" }],
        ports: [{ name: "http", protocol: "TCP", port: 80, targetPort: "web", nodePort: 30080 }, { name: "dns", protocol: "UDP", port: 53, targetPort: 5353, nodePort: 30053 }],
        sessionAffinity: "ClientIP", affinityTimeoutSeconds: 60, externalTrafficPolicy: "Local", internalTrafficPolicy: "Local",
        loadBalancerSourceRanges: ["10.0.0.0/8"], healthCheckNodePort: 32000,
      },
    },
    {
      name: "headless: clusterIP None gives no ClusterIPs",
      in: { metadata: { namespace: "ns", name: "h" }, spec: { clusterIP: "None", clusterIPs: ["None"], ports: [{ port: 80 }] } },
      want: { clusterIPs: [] },
    },
    { name: "no name: not a stored object", in: { spec: {} }, want: undefined },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = fromV1Service(c.in);
      if (c.want === undefined || Object.keys(c.want as object).length > 1) assert.deepEqual(got, c.want);
      else assert.deepEqual(got?.clusterIPs, (c.want as { clusterIPs: string[] }).clusterIPs);
    });
  }
});

describe("slimV1Service", () => {
  const full: V1Service = {
    apiVersion: "v1", kind: "Service",
    metadata: {
      namespace: "ns", name: "lb", resourceVersion: "42", uid: "u-1", labels: { app: "web" }, annotations: { note: "x".repeat(100) },
      managedFields: [{ manager: "kubectl", operation: "Update", fieldsType: "FieldsV1", fieldsV1: { "f:spec": {} } }],
    },
    spec: {
      type: "LoadBalancer", selector: { app: "web" }, clusterIP: "10.96.0.21", clusterIPs: ["10.96.0.21"], externalIPs: ["203.0.113.5"], ipFamilies: ["IPv4"],
      ports: [{ name: "http", port: 80, targetPort: "web", nodePort: 30080 }], sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
      externalTrafficPolicy: "Local", internalTrafficPolicy: "Local", healthCheckNodePort: 32000, loadBalancerSourceRanges: ["10.0.0.0/8"],
    },
    status: { loadBalancer: { ingress: [{ ip: "203.0.113.60", ipMode: "Proxy" }] } },
  };
  test("keeps what fromV1Service reads and the cache's keys, nothing else", () => {
    const slim = slimV1Service(full);
    assert.deepEqual(fromV1Service(slim), fromV1Service(full));
    assert.deepEqual(slim.metadata, { namespace: "ns", name: "lb", resourceVersion: "42" });
    assert.equal(slim.spec?.selector, undefined);
    assert.equal(slim.spec?.ipFamilies, undefined);
  });
  test("every case of fromV1Service reads the same slimmed", () => {
    for (const o of [full, { metadata: { namespace: "ns", name: "web" } }, { metadata: { namespace: "ns", name: "h" }, spec: { clusterIP: "None", ports: [{ port: 80 }] } }] as V1Service[]) {
      assert.deepEqual(fromV1Service(slimV1Service(o)), fromV1Service(o));
    }
  });
});
