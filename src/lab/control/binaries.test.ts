import { test } from "node:test";
import assert from "node:assert/strict";
import { kubernetesBinDir, kubernetesVersion } from "./binaries.ts";

test("the pin is read from the build module, whether go mod tidy left it direct or indirect", () => {
  assert.equal(kubernetesVersion("module x\n\nrequire k8s.io/kubernetes v1.37.2\n"), "v1.37.2");
  assert.equal(kubernetesVersion("module x\n\nrequire (\n\tk8s.io/api v0.37.2 // indirect\n\tk8s.io/kubernetes v1.37.2 // indirect\n)\n"), "v1.37.2");
  assert.throws(() => kubernetesVersion("module x\n\nrequire k8s.io/kubernetes-extra v1.0.0\n"), { code: "KUBERNETES_PIN_MISSING" });
  // The checkout's own build module pins a release.
  assert.match(kubernetesVersion(), /^v1\.\d+\.\d+$/);
});

test("the binaries live in the cache keyed by the pin; WEFT_CACHE moves the cache", () => {
  const v = kubernetesVersion();
  assert.equal(kubernetesBinDir({}), `/var/cache/weft/kubernetes/${v}/bin`);
  assert.equal(kubernetesBinDir({ WEFT_CACHE: "/tmp/c" }), `/tmp/c/kubernetes/${v}/bin`);
});
