import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { V1EndpointSlice } from "@kubernetes/client-node";
import { fromV1EndpointSlice, slimV1EndpointSlice } from "./endpointslices.ts";

describe("fromV1EndpointSlice", () => {
  const base = { metadata: { namespace: "ns", name: "web-abc", labels: { "kubernetes.io/service-name": "web" } }, addressType: "IPv4", ports: [{ name: "http", port: 8080 }] };
  const cases: { name: string; in: V1EndpointSlice; want: unknown }[] = [
    {
      name: "conditions default as the API says: ready when absent, serving as ready, not terminating",
      in: { ...base, endpoints: [{ addresses: ["10.244.1.5"], nodeName: "n1" }, { addresses: ["10.244.1.6"], conditions: { ready: false, serving: true, terminating: true } }, { addresses: ["10.244.1.7"], conditions: { ready: false } }] },
      want: {
        namespace: "ns", name: "web-abc", service: "web",
        endpoints: [
          { address: "10.244.1.5", ready: true, serving: true, terminating: false, nodeName: "n1" },
          { address: "10.244.1.6", ready: false, serving: true, terminating: true },
          { address: "10.244.1.7", ready: false, serving: false, terminating: false },
        ],
        ports: [{ name: "http", protocol: "TCP", port: 8080 }],
      },
    },
    {
      name: "the change trigger time is read",
      in: { ...base, metadata: { ...base.metadata, annotations: { "endpoints.kubernetes.io/last-change-trigger-time": "2026-12-07T00:00:01Z" } }, endpoints: [] },
      want: { namespace: "ns", name: "web-abc", service: "web", endpoints: [], ports: [{ name: "http", protocol: "TCP", port: 8080 }], triggerTimeMs: Date.parse("2026-12-07T00:00:01Z") },
    },
    { name: "an IPv6 slice is not the proxy's", in: { ...base, addressType: "IPv6", endpoints: [] }, want: undefined },
    { name: "a slice without a Service label belongs to none", in: { ...base, metadata: { namespace: "ns", name: "x" }, endpoints: [] }, want: undefined },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(fromV1EndpointSlice(c.in), c.want));
  for (const c of cases) test(`${c.name}: the same from the informer's slim copy`, () => assert.deepEqual(fromV1EndpointSlice(slimV1EndpointSlice(c.in)), c.want));
});

describe("slimV1EndpointSlice", () => {
  test("drops what the proxy does not read: managedFields, other labels, targetRefs, zones, hints, extra addresses", () => {
    const full: V1EndpointSlice = {
      metadata: {
        namespace: "ns", name: "web-abc", resourceVersion: "7", generateName: "web-", labels: { "kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "c" },
        managedFields: [{ manager: "c", operation: "Update" }],
      },
      addressType: "IPv4",
      endpoints: [{ addresses: ["10.244.1.5", "10.244.1.9"], conditions: { ready: true }, nodeName: "n1", zone: "z", targetRef: { kind: "Pod", name: "p", uid: "u" }, hints: { forZones: [{ name: "z" }] } }],
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    };
    const slim = slimV1EndpointSlice(full);
    assert.deepEqual(fromV1EndpointSlice(slim), fromV1EndpointSlice(full));
    assert.deepEqual(slim, {
      metadata: { namespace: "ns", name: "web-abc", resourceVersion: "7", labels: { "kubernetes.io/service-name": "web" } },
      addressType: "IPv4",
      endpoints: [{ addresses: ["10.244.1.5"], conditions: { ready: true }, nodeName: "n1" }],
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    });
  });
});
