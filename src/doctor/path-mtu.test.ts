import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeRunner } from "../kernel/fake-runner.ts";
import { MIN_IPV4_MTU, pingFits, searchPathMtu } from "./path-mtu.ts";

for (const [path, max, want] of [
  [1400, 1500, 1400],
  [1500, 1500, 1500],
  [1473, 1500, 1473],
  [600, 9000, 600],
  [577, 1500, 577],
  [MIN_IPV4_MTU, 1500, MIN_IPV4_MTU],
  [500, 1500, null],
] as const) {
  test(`a path carrying ${path} bytes under an interface of ${max}: ${want}`, async () => {
    const asked: number[] = [];
    const found = await searchPathMtu(async (size) => (asked.push(size), size <= path), max);
    assert.equal(found, want);
    assert.ok(asked.length <= 2 * 32 + (max - MIN_IPV4_MTU) / 32, `${asked.length} probes`);
  });
}

test("pingFits sends one don't-fragment ping whose payload leaves room for the IP and ICMP headers", async () => {
  const runner = new FakeRunner((call) => ({ code: call.argv.includes("1372") ? 0 : 1 }));
  assert.equal(await pingFits(runner, "192.168.125.102")(1400), true);
  assert.equal(await pingFits(runner, "192.168.125.102")(1401), false);
  assert.deepEqual(runner.calls[0]!.argv, ["ping", "-n", "-q", "-c", "1", "-w", "1", "-M", "do", "-s", "1372", "192.168.125.102"]);
});
