import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1Node } from "@kubernetes/client-node";
import { fromV1Node, slimV1Node } from "./nodes.ts";

/** A Node as a kubelet keeps it: images, conditions, capacity and managedFields around what weft reads. */
function kubeletNode(): V1Node {
  return {
    metadata: {
      name: "node2", uid: "4f1c", resourceVersion: "4711", labels: { "kubernetes.io/hostname": "node2" },
      annotations: { "weft.dev/public-ip": "192.168.125.102", "weft.dev/backend": "vxlan", "weft.dev/backend-data": '{"vtepMac":"0a:58:0a:f4:02:00"}', "node.alpha.kubernetes.io/ttl": "0" },
      managedFields: Array.from({ length: 4 }, (_, i) => ({ manager: `m${i}`, operation: "Update", fieldsType: "FieldsV1", fieldsV1: { "f:status": { "f:conditions": {} } } })),
    },
    spec: { podCIDR: "10.244.2.0/24", podCIDRs: ["10.244.2.0/24"], providerID: "lab://node2" },
    status: {
      addresses: [{ type: "Hostname", address: "node2" }, { type: "InternalIP", address: "192.168.125.102" }],
      conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" }],
      capacity: { cpu: "2", memory: "4Gi", pods: "110" },
      images: Array.from({ length: 30 }, (_, i) => ({ names: [`registry.example/app${i}@sha256:${"0".repeat(64)}`, `registry.example/app${i}:v1`], sizeBytes: 1e7 + i })),
    },
  };
}

test("slimV1Node keeps what the agent reads of a Node, and the name and version the informer keys by", () => {
  const full = kubeletNode();
  const slim = slimV1Node(full);
  assert.deepEqual(fromV1Node(slim), fromV1Node(full));
  assert.deepEqual(fromV1Node(slim), { name: "node2", podCidrs: ["10.244.2.0/24"], internalIp: "192.168.125.102", weft: { "public-ip": "192.168.125.102", backend: "vxlan", "backend-data": '{"vtepMac":"0a:58:0a:f4:02:00"}' } });
  assert.deepEqual([slim.metadata?.name, slim.metadata?.resourceVersion], ["node2", "4711"]);
  assert.ok(JSON.stringify(slim).length * 10 < JSON.stringify(full).length, `${JSON.stringify(slim).length} of ${JSON.stringify(full).length} bytes`);
});

test("slimV1Node of a Node that has no podCIDR, annotations or addresses yet reads as such", () => {
  const bare: V1Node = { metadata: { name: "node3", resourceVersion: "1" } };
  assert.deepEqual(fromV1Node(slimV1Node(bare)), fromV1Node(bare));
  const legacy: V1Node = { metadata: { name: "node4", resourceVersion: "2" }, spec: { podCIDR: "10.244.4.0/24" } };
  assert.deepEqual(fromV1Node(slimV1Node(legacy)).podCidrs, ["10.244.4.0/24"]);
});
