import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { buildModuleKey, BUILD_MODULE, BUILD_MODULE_SUM, kubernetesBinDir, kubernetesVersion } from "./binaries.ts";

test("the pin is read from the build module, whether go mod tidy left it direct or indirect", () => {
  assert.equal(kubernetesVersion("module x\n\nrequire k8s.io/kubernetes v1.37.2\n"), "v1.37.2");
  assert.equal(kubernetesVersion("module x\n\nrequire (\n\tk8s.io/api v0.37.2 // indirect\n\tk8s.io/kubernetes v1.37.2 // indirect\n)\n"), "v1.37.2");
  assert.throws(() => kubernetesVersion("module x\n\nrequire k8s.io/kubernetes-extra v1.0.0\n"), { code: "KUBERNETES_PIN_MISSING" });
  // The checkout's own build module pins a release.
  assert.match(kubernetesVersion(), /^v1\.\d+\.\d+$/);
});

test("the binaries live in the cache keyed by the pin and the build module; WEFT_CACHE moves the cache", () => {
  const v = kubernetesVersion();
  const key = buildModuleKey();
  assert.match(key, /^[0-9a-f]{16}$/);
  assert.equal(kubernetesBinDir({}), `/var/cache/weft/kubernetes/${v}/${key}/bin`);
  assert.equal(kubernetesBinDir({ WEFT_CACHE: "/tmp/c" }), `/tmp/c/kubernetes/${v}/${key}/bin`);
  assert.notEqual(buildModuleKey(Buffer.from("a"), Buffer.from("b")), buildModuleKey(Buffer.from("a"), Buffer.from("c")));
});

test("the key is the one scripts/kubernetes.sh computes", () => {
  const sh = execFileSync("sh", ["-c", 'cat "$0" "$1" | sha256sum | cut -c1-16', BUILD_MODULE, BUILD_MODULE_SUM], { encoding: "utf8" }).trim();
  assert.equal(buildModuleKey(), sh);
});
