import { test } from "node:test";
import assert from "node:assert/strict";
import type { Container, Pod } from "../../kube/pod.ts";
import { containerEnv, expandVars, fieldValue } from "./env.ts";

const pod = { uid: "u-1", namespace: "demo", name: "web-1", labels: { app: "web" }, nodeName: "node1", serviceAccountName: "default", hostname: null } as unknown as Pod;
const facts = { pod, podIp: "10.244.1.5", hostIp: "192.168.125.101" };

test("$(VAR) expands earlier variables; $$ is a dollar; unknown ones stay", () => {
  const vars = new Map([["A", "1"]]);
  assert.equal(expandVars("x$(A)y $(B) $$(A)", vars), "x1y $(B) $(A)");
});

test("downward API fields", () => {
  assert.equal(fieldValue(facts, "metadata.name"), "web-1");
  assert.equal(fieldValue(facts, "metadata.labels['app']"), "web");
  assert.equal(fieldValue(facts, "status.podIP"), "10.244.1.5");
  assert.equal(fieldValue(facts, "status.hostIP"), "192.168.125.101");
  assert.throws(() => fieldValue(facts, "spec.nope"), { code: "FIELD_PATH_UNSUPPORTED" });
});

test("env in order with references, the service variables and keys from ConfigMaps", async () => {
  const c = {
    name: "app",
    env: [
      { name: "GREETING", value: "hi" },
      { name: "MSG", value: "$(GREETING) from $(POD)" },
      { name: "POD", fieldRef: "metadata.name" },
      { name: "COLOR", configMapKey: { name: "cfg", key: "color", optional: false } },
      { name: "GONE", secretKey: { name: "s", key: "k", optional: true } },
    ],
    envFrom: [],
  } as unknown as Container;
  const env = await containerEnv(c, facts, "10.96.0.1", ["/x/bin"], async (kind, name) => (kind === "configMap" && name === "cfg" ? new Map([["color", "blue"]]) : null));
  assert.equal(env.get("MSG"), "hi from $(POD)");
  assert.equal(env.get("POD"), "web-1");
  assert.equal(env.get("COLOR"), "blue");
  assert.equal(env.has("GONE"), false);
  assert.equal(env.get("KUBERNETES_SERVICE_HOST"), "10.96.0.1");
  assert.equal(env.get("HOSTNAME"), "web-1");
  assert.match(env.get("PATH")!, /^\/x\/bin:/);
  const missing = { ...c, env: [{ name: "X", configMapKey: { name: "nope", key: "k", optional: false } }] } as unknown as Container;
  await assert.rejects(containerEnv(missing, facts, "10.96.0.1", [], async () => null), { code: "ENV_SOURCE_MISSING" });
});

test("envFrom brings every key of a ConfigMap (prefixed), overrides the service variables, and env overrides it", async () => {
  const c = {
    name: "agent",
    envFrom: [
      { kind: "configMap", name: "kubernetes-services-endpoint", prefix: "", optional: true },
      { kind: "configMap", name: "extra", prefix: "X_", optional: false },
      { kind: "configMap", name: "absent", prefix: "", optional: true },
    ],
    env: [{ name: "X_B", value: "from env" }],
  } as unknown as Container;
  const data: Record<string, Map<string, string>> = {
    "kubernetes-services-endpoint": new Map([["KUBERNETES_SERVICE_HOST", "192.168.125.100"], ["KUBERNETES_SERVICE_PORT", "6443"]]),
    extra: new Map([["A", "1"], ["B", "2"]]),
  };
  const env = await containerEnv(c, facts, "10.96.0.1", [], async (_kind, name) => data[name] ?? null);
  assert.equal(env.get("KUBERNETES_SERVICE_HOST"), "192.168.125.100");
  assert.equal(env.get("KUBERNETES_SERVICE_PORT"), "6443");
  assert.equal(env.get("X_A"), "1");
  assert.equal(env.get("X_B"), "from env");
  const required = { ...c, envFrom: [{ kind: "configMap", name: "absent", prefix: "", optional: false }] } as unknown as Container;
  await assert.rejects(containerEnv(required, facts, "10.96.0.1", [], async () => null), { code: "ENV_SOURCE_MISSING" });
});
