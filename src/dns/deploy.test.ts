/**
 * deploy/weft-dns.yaml says what DESIGN.md and the Kubernetes DNS conventions
 * promise: kube-system, label k8s-app: kube-dns, two replicas, Service
 * kube-dns at 10.96.0.10 with ports dns 53/UDP and dns-tcp 53/TCP, read-only
 * RBAC on exactly what the source watches, a ConfigMap weft dns accepts,
 * and the image of this version of weft.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { ROOT } from "../lib/root.ts";
import { imageRef } from "../lib/image.ts";
import { VERSION } from "../lib/version.ts";
import { parseDnsConfig } from "./config.ts";

type Doc = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };
const docs = parseAllDocuments(readFileSync(join(ROOT, "deploy/weft-dns.yaml"), "utf8")).map((d) => d.toJSON() as Doc);
const one = (kind: string) => {
  const found = docs.filter((d) => d.kind === kind);
  assert.equal(found.length, 1, kind);
  return found[0]! as any;
};

test("the Deployment: 2 replicas of weft dns in kube-system labelled k8s-app: kube-dns, probes on /health and /ready", () => {
  const d = one("Deployment");
  assert.equal(d.metadata.namespace, "kube-system");
  assert.equal(d.spec.replicas, 2);
  assert.deepEqual(d.spec.selector.matchLabels, { "k8s-app": "kube-dns" });
  assert.equal(d.spec.template.metadata.labels["k8s-app"], "kube-dns");
  const c = d.spec.template.spec.containers[0];
  assert.equal(c.image, imageRef(VERSION));
  assert.deepEqual(c.command.slice(0, 2), ["weft", "dns"]);
  assert.equal(c.livenessProbe.httpGet.path, "/health");
  assert.equal(c.readinessProbe.httpGet.path, "/ready");
  assert.equal(d.spec.template.spec.serviceAccountName, one("ServiceAccount").metadata.name);
  for (const doc of docs) if (doc.metadata.namespace !== undefined) assert.equal(doc.metadata.namespace, "kube-system", doc.kind);
});

test("the Service kube-dns at 10.96.0.10 with ports dns 53/UDP and dns-tcp 53/TCP", () => {
  const s = one("Service");
  assert.equal(s.metadata.name, "kube-dns");
  assert.equal(s.spec.clusterIP, "10.96.0.10");
  assert.deepEqual(s.spec.selector, { "k8s-app": "kube-dns" });
  assert.deepEqual(s.spec.ports.map((p: any) => `${p.name} ${p.port}/${p.protocol}`), ["dns 53/UDP", "dns-tcp 53/TCP"]);
});

test("RBAC: list and watch of services, namespaces and endpointslices, nothing more, bound to the pods' account", () => {
  const role = one("ClusterRole");
  const granted = role.rules.flatMap((r: any) => r.resources.map((res: string) => `${r.apiGroups.join(",")}/${res} ${r.verbs.join(",")}`));
  assert.deepEqual(granted.sort(), ["/namespaces list,watch", "/services list,watch", "discovery.k8s.io/endpointslices list,watch"]);
  const binding = one("ClusterRoleBinding");
  assert.equal(binding.roleRef.name, role.metadata.name);
  assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: "weft-dns", namespace: "kube-system" }]);
});

test("the ConfigMap holds a config weft dns accepts, on the ports the Deployment names", () => {
  const cm = one("ConfigMap");
  const config = parseDnsConfig(cm.data["config.yaml"], "the ConfigMap", "/nonexistent");
  assert.equal(config.zone, "cluster.local");
  assert.equal(config.port, 53);
  const c = one("Deployment").spec.template.spec.containers[0];
  assert.equal(c.livenessProbe.httpGet.port, config.httpPort);
  assert.equal(c.command.at(-1), `/etc/weft-dns/config.yaml`);
  assert.equal(c.volumeMounts[0].mountPath, "/etc/weft-dns");
});
