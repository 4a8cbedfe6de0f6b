import { test } from "node:test";
import assert from "node:assert/strict";
import { EmbeddedStore } from "./embedded/store.ts";
import { EtcdStore } from "./etcd/store.ts";
import { DEFAULT_STORE, STORES, createStore } from "./registry.ts";

test("stores are found by their --store name, with their own options", async () => {
  const embedded = createStore("embedded", { embedded: { dir: "/tmp/weft-registry-test-unused" } });
  const etcd = createStore("etcd", { etcd: { prefix: "/weft-test/" } });
  try {
    assert.ok(embedded instanceof EmbeddedStore);
    assert.equal(embedded.dir, "/tmp/weft-registry-test-unused");
    assert.ok(etcd instanceof EtcdStore);
    assert.equal(etcd.prefix, "/weft-test/");
    assert.ok(DEFAULT_STORE in STORES);
  } finally {
    await embedded.close();
    await etcd.close();
  }
});

test("an unknown store names the known ones", () => {
  for (const name of ["consul", "toString", "__proto__"]) {
    assert.throws(() => createStore(name), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, "UNKNOWN_STORE");
      assert.equal(err.message, `unknown store "${name}"`);
      assert.equal(err.hint, "use one of: embedded, etcd, kubernetes");
      return true;
    });
  }
});
