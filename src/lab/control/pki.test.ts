import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, statSync } from "node:fs";
import { ensureLabRoot, removeLabRootIfEmpty } from "../lab-root.ts";
import { labLayout } from "../layout.ts";
import { controlPaths, kubeletCredentials } from "./paths.ts";
import { opensslConfig, writeLabPki } from "./pki.ts";

const lab = labLayout(`t${process.pid}-pki`);
const nodes = [1, 2].map((k) => ({ name: `node${k}`, index: k, netns: `${lab.name}-node${k}`, underlayIp: `192.168.125.${100 + k}` }));
const c = controlPaths(lab);
const openssl = (...args: string[]) => execFileSync("openssl", args, { encoding: "utf8" });
/** Subject, SANs and extended key usage of a certificate, as openssl prints them. */
const describe = (cert: string) => openssl("x509", "-in", cert, "-noout", "-subject", "-ext", "subjectAltName,extendedKeyUsage");

before(() => {
  ensureLabRoot();
  return writeLabPki(lab, nodes);
});
after(() => {
  rmSync(lab.dir, { recursive: true, force: true });
  removeLabRootIfEmpty();
});

test("every certificate is signed by the lab CA", () => {
  const certs = [c.apiserver.cert, c.apiserverKubeletClient.cert, ...nodes.flatMap((n) => [kubeletCredentials(lab, n.name).client.cert, kubeletCredentials(lab, n.name).serving.cert])];
  assert.match(openssl("verify", "-CAfile", c.caCert, ...certs), new RegExp(`^(.*: OK\n){${certs.length}}$`));
});

test("the API server's certificate serves every name and address a client dials", () => {
  const text = describe(c.apiserver.cert);
  for (const san of ["DNS:kubernetes.default.svc.cluster.local", `DNS:${lab.controlNs}`, "IP Address:192.168.125.100", "IP Address:10.96.0.1", "IP Address:127.0.0.1"]) {
    assert.ok(text.includes(san), `${san} missing from ${text}`);
  }
  assert.match(text, /TLS Web Server Authentication/);
});

test("a node's kubelet is system:node:NODE in system:nodes, serving its own name and underlay IP", () => {
  const k = kubeletCredentials(lab, "node2");
  assert.match(describe(k.client.cert), /subject=O = system:nodes, CN = system:node:node2\n[\s\S]*TLS Web Client Authentication/);
  const serving = describe(k.serving.cert);
  assert.match(serving, /DNS:node2, IP Address:192\.168\.125\.102/);
  assert.match(serving, /TLS Web Server Authentication/);
  assert.equal(readFileSync(k.caCert, "utf8"), readFileSync(c.caCert, "utf8"));
  const conf = JSON.parse(readFileSync(k.kubeconfig, "utf8"));
  assert.equal(conf.clusters[0].cluster.server, "https://192.168.125.100:6443");
  assert.equal(Buffer.from(conf.users[0].user["client-certificate-data"], "base64").toString(), readFileSync(k.client.cert, "utf8"));
  assert.equal(conf.users[0].name, "system:node:node2");
});

test("the admin is in system:masters; the API server's kubelet client too", () => {
  const admin = JSON.parse(readFileSync(c.adminConf, "utf8"));
  const pem = Buffer.from(admin.users[0].user["client-certificate-data"], "base64").toString();
  assert.match(execFileSync("openssl", ["x509", "-noout", "-subject"], { input: pem, encoding: "utf8" }), /O = system:masters, CN = kubernetes-admin/);
  assert.match(describe(c.apiserverKubeletClient.cert), /O = system:masters, CN = kube-apiserver-kubelet-client/);
});

test("private keys and kubeconfigs are readable by root only", () => {
  for (const f of [c.caKey, c.saKey, c.apiserver.key, c.adminConf, kubeletCredentials(lab, "node1").serving.key, kubeletCredentials(lab, "node1").kubeconfig]) {
    assert.equal(statSync(f).mode & 0o777, 0o600, f);
  }
  assert.match(readFileSync(c.saPub, "utf8"), /^-----BEGIN PUBLIC KEY-----/);
});

test("the front-proxy client certificate is signed by its own CA, as kubeadm's", () => {
  assert.match(openssl("verify", "-CAfile", c.frontProxyCa.cert, c.frontProxyClient.cert), /: OK\n$/);
  assert.throws(() => openssl("verify", "-CAfile", c.caCert, c.frontProxyClient.cert));
  assert.match(describe(c.frontProxyClient.cert), /subject=CN = front-proxy-client/);
});

test("the openssl configuration states the CA and leaf extensions", () => {
  assert.match(opensslConfig({ cn: "weft-blue-ca", usage: "ca" }), /CN = weft-blue-ca\n[\s\S]*basicConstraints = critical,CA:TRUE/);
  const leaf = opensslConfig({ cn: "x", org: "g", usage: "clientAuth" });
  assert.match(leaf, /O = g\nCN = x\n/);
  assert.match(leaf, /CA:FALSE/);
  assert.doesNotMatch(leaf, /subjectAltName/);
});
