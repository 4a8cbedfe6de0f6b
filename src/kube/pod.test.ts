import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { fromV1Pod } from "./pod.ts";

test("a V1Pod becomes a slim Pod with the API server's defaults", () => {
  const pod = fromV1Pod({
    metadata: { uid: "u1", namespace: "demo", name: "web", labels: { app: "web" } },
    spec: {
      nodeName: "node1",
      containers: [
        {
          name: "c",
          image: "nginx",
          ports: [{ name: "http", containerPort: 80 }, { containerPort: 53, protocol: "UDP", hostPort: 5353 }],
          env: [{ name: "A", value: "1" }, { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }, { name: "K", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }],
          volumeMounts: [{ name: "data", mountPath: "/data", subPath: "" }],
          readinessProbe: { httpGet: { port: "http" as never, path: "/healthz" } },
        },
      ],
      volumes: [
        { name: "data", emptyDir: {} },
        { name: "host", hostPath: { path: "/etc/cni/net.d", type: "DirectoryOrCreate" } },
        { name: "kube-api-access", projected: { sources: [{ serviceAccountToken: { path: "token", expirationSeconds: 3607 } }, { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } }, { downwardAPI: { items: [{ path: "namespace", fieldRef: { fieldPath: "metadata.namespace" } }] } }] } },
        { name: "nfs", nfs: { server: "x", path: "/" } },
      ],
    },
  } as V1Pod);
  assert.equal(pod.restartPolicy, "Always");
  assert.equal(pod.dnsPolicy, "ClusterFirst");
  assert.equal(pod.terminationGracePeriodSeconds, 30);
  assert.equal(pod.deletionTimestamp, null);
  const c = pod.containers[0]!;
  assert.deepEqual(c.ports, [
    { name: "http", containerPort: 80, hostPort: null, protocol: "TCP" },
    { name: null, containerPort: 53, hostPort: 5353, protocol: "UDP" },
  ]);
  assert.deepEqual(c.env, [{ name: "A", value: "1" }, { name: "POD", fieldRef: "metadata.name" }, { name: "K", secretKey: { name: "s", key: "k", optional: false } }]);
  assert.deepEqual(c.volumeMounts, [{ name: "data", mountPath: "/data", readOnly: false, subPath: null }]);
  assert.deepEqual(c.readinessProbe?.action, { kind: "httpGet", host: null, port: "http", path: "/healthz", scheme: "HTTP", headers: [] });
  assert.equal(c.readinessProbe?.periodSeconds, 10);
  assert.deepEqual(pod.volumes.map((v) => v.kind), ["emptyDir", "hostPath", "projected", "unsupported"]);
  const projected = pod.volumes[2]!;
  assert.ok(projected.kind === "projected");
  assert.deepEqual(projected.sources.map((s) => s.kind), ["serviceAccountToken", "configMap", "downwardAPI"]);
  assert.deepEqual(pod.volumes[3], { name: "nfs", kind: "unsupported", type: "nfs" });
});

test("a pod's QoS class is the API server's (status.qosClass), null before it has one", () => {
  assert.equal(fromV1Pod({ metadata: { name: "a" }, spec: { containers: [] }, status: { qosClass: "BestEffort" } } as V1Pod).qosClass, "BestEffort");
  assert.equal(fromV1Pod({ metadata: { name: "b" }, spec: { containers: [] } } as V1Pod).qosClass, null);
});
