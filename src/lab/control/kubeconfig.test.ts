import { test } from "node:test";
import assert from "node:assert/strict";
import { renderKubeconfig } from "./kubeconfig.ts";

test("a kubeconfig names one cluster, user and context, with the PEMs embedded in base64", () => {
  const text = renderKubeconfig({
    cluster: "weft-lab",
    server: "https://192.168.125.100:6443",
    user: "system:node:node1",
    caPem: "CA PEM\n",
    certPem: "CERT PEM\n",
    keyPem: "KEY PEM\n",
  });
  const k = JSON.parse(text);
  assert.equal(k.kind, "Config");
  assert.equal(k["current-context"], "system:node:node1@weft-lab");
  assert.deepEqual(k.contexts, [{ name: "system:node:node1@weft-lab", context: { cluster: "weft-lab", user: "system:node:node1" } }]);
  assert.equal(k.clusters[0].cluster.server, "https://192.168.125.100:6443");
  const unb64 = (s: string) => Buffer.from(s, "base64").toString();
  assert.equal(unb64(k.clusters[0].cluster["certificate-authority-data"]), "CA PEM\n");
  assert.equal(unb64(k.users[0].user["client-certificate-data"]), "CERT PEM\n");
  assert.equal(unb64(k.users[0].user["client-key-data"]), "KEY PEM\n");
});
