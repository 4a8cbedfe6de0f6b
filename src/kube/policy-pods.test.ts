import { test } from "node:test";
import assert from "node:assert/strict";
import { fromV1NetworkPolicy } from "./network-policies.ts";
import { policyNamespaceOf, policyPodOf, slimV1PolicyPod } from "./policy-pods.ts";

test("a Pod becomes the policy's slim pod: IPv4 addresses, node, hostNetwork, named ports; a finished pod is gone", () => {
  const pod = {
    metadata: { namespace: "x", name: "a", labels: { pod: "a" } },
    spec: { nodeName: "n1", containers: [{ name: "c", ports: [{ name: "serve-80-tcp", containerPort: 80 }, { containerPort: 81, protocol: "SCTP" }] }] },
    status: { phase: "Running", podIP: "10.244.1.5", podIPs: [{ ip: "10.244.1.5" }, { ip: "fd00::5" }] },
  };
  assert.deepEqual(policyPodOf(pod), {
    namespace: "x", name: "a", labels: { pod: "a" }, ips: ["10.244.1.5"], node: "n1", hostNetwork: false,
    ports: [{ name: "serve-80-tcp", port: 80, protocol: "TCP" }, { name: null, port: 81, protocol: "SCTP" }],
  });
  assert.equal(policyPodOf({ ...pod, status: { phase: "Succeeded", podIP: "10.244.1.5" } }), undefined);
  assert.deepEqual(policyPodOf({ metadata: { namespace: "x", name: "p" }, spec: { hostNetwork: true, containers: [] } })?.hostNetwork, true);
  assert.deepEqual(policyNamespaceOf({ metadata: { name: "x", labels: { "kubernetes.io/metadata.name": "x" } } }), { name: "x", labels: { "kubernetes.io/metadata.name": "x" } });
});

test("a NetworkPolicy becomes the slim policy: peers, ports (number, name, endPort, default TCP), policyTypes as given", () => {
  const np = fromV1NetworkPolicy({
    metadata: { namespace: "x", name: "p" },
    spec: {
      podSelector: { matchLabels: { pod: "a" } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ _from: [{ namespaceSelector: {}, podSelector: { matchExpressions: [{ key: "pod", operator: "In", values: ["b"] }] } }, { ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } }], ports: [{ port: "serve-80-tcp" }, { protocol: "UDP", port: 80, endPort: 90 }] }],
      egress: [{}],
    },
  });
  assert.deepEqual(np, {
    namespace: "x", name: "p", podSelector: { matchLabels: { pod: "a" } }, policyTypes: ["Ingress", "Egress"],
    ingress: [{ peers: [{ podSelector: { matchExpressions: [{ key: "pod", operator: "In", values: ["b"] }] }, namespaceSelector: {} }, { ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } }], ports: [{ protocol: "TCP", port: "serve-80-tcp" }, { protocol: "UDP", port: 80, endPort: 90 }] }],
    egress: [{}],
  });
  assert.equal(fromV1NetworkPolicy({ spec: { podSelector: {} } }), undefined);
  // A watch event is the wire's JSON: `from`, not `_from`.
  const wire = fromV1NetworkPolicy({ metadata: { namespace: "x", name: "w" }, spec: { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] } as never] } });
  assert.deepEqual(wire?.ingress, [{ peers: [{ podSelector: {} }] }]);
});

test("the slim pod the informer caches gives the same policy pod as the whole one, without what policy does not read", () => {
  const pod = {
    metadata: { namespace: "x", name: "a", resourceVersion: "7", uid: "u", labels: { pod: "a" }, managedFields: [{ manager: "kubelet" }], annotations: { big: "x".repeat(1000) } },
    spec: { nodeName: "n1", volumes: [{ name: "v" }], containers: [{ name: "c", image: "i", ports: [{ name: "serve-80-tcp", containerPort: 80 }, { containerPort: 81, protocol: "SCTP" }] }, { name: "side", image: "j" }] },
    status: { phase: "Running", podIP: "10.244.1.5", podIPs: [{ ip: "10.244.1.5" }], conditions: [{ type: "Ready", status: "True" }] },
  };
  const slim = slimV1PolicyPod(pod);
  assert.deepEqual(policyPodOf(slim), policyPodOf(pod));
  assert.deepEqual(slim.metadata, { namespace: "x", name: "a", resourceVersion: "7", labels: { pod: "a" } });
  assert.equal(JSON.stringify(slim).includes("managedFields"), false);
  assert.deepEqual(slim.spec?.containers?.map((c) => c.name), ["c"]);
  assert.deepEqual(policyPodOf(slimV1PolicyPod({ metadata: { namespace: "x", name: "h" }, spec: { hostNetwork: true, containers: [] } }))?.hostNetwork, true);
  assert.equal(policyPodOf(slimV1PolicyPod({ ...pod, status: { phase: "Failed", podIP: "10.244.1.5" } })), undefined);
});
