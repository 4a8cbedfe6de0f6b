import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeRunner } from "../kernel/fake-runner.ts";
import { BACKENDS, createBackend, DEFAULT_BACKEND } from "./registry.ts";
import { HostGwBackend } from "./hostgw/hostgw.ts";
import { VxlanBackend } from "./vxlan/vxlan.ts";

test("backends are found by their --backend name", () => {
  const runner = new FakeRunner();
  assert.ok(createBackend("vxlan", { runner }) instanceof VxlanBackend);
  assert.ok(createBackend("host-gw", { runner }) instanceof HostGwBackend);
  assert.ok(DEFAULT_BACKEND in BACKENDS);
});

test("an unknown backend names the known ones", () => {
  for (const name of ["udp", "toString", "__proto__"]) {
    assert.throws(() => createBackend(name, { runner: new FakeRunner() }), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, "UNKNOWN_BACKEND");
      assert.equal(err.message, `unknown backend "${name}"`);
      assert.equal(err.hint, "use one of: vxlan, host-gw");
      return true;
    });
  }
});
