import { test } from "node:test";
import assert from "node:assert/strict";
import { WeftError } from "../../lib/errors.ts";
import { formatServiceRef, namesService, parseServiceRef, type ServiceRef } from "./ref.ts";

test("SERVICE[:PORT] forms", () => {
  const cases: [string, ServiceRef][] = [
    ["web", { kind: "name", namespace: "default", name: "web", port: null }],
    ["shop/web", { kind: "name", namespace: "shop", name: "web", port: null }],
    ["shop/web:80", { kind: "name", namespace: "shop", name: "web", port: 80 }],
    ["web:http", { kind: "name", namespace: "default", name: "web", port: "http" }],
    ["kube-system/kube-dns:dns-tcp", { kind: "name", namespace: "kube-system", name: "kube-dns", port: "dns-tcp" }],
    ["10.96.0.10", { kind: "ip", ip: "10.96.0.10", port: null }],
    ["10.96.0.10:53", { kind: "ip", ip: "10.96.0.10", port: 53 }],
  ];
  for (const [text, want] of cases) {
    assert.deepEqual(parseServiceRef(text), want, text);
    assert.equal(formatServiceRef(want), text.startsWith("web") ? `default/${text}` : text);
  }
});

test("bad SERVICE[:PORT] is SERVICE_REF_INVALID naming the input", () => {
  for (const [text, message] of [
    ["a/b/c", /"a\/b\/c" is not a Service/],
    ["Web", /"Web" is neither/],
    ["web:0", /port "0", which is neither a number from 1 to 65535/],
    ["web:70000", /port "70000"/],
    ["web:", /port ""/],
    ["web:Http", /port "Http"/],
    ["10.96.0.10:x_y", /port "x_y"/],
    ["/web", /is not a Service/],
  ] as const) {
    assert.throws(() => parseServiceRef(text), (err: unknown) => err instanceof WeftError && err.code === "SERVICE_REF_INVALID" && message.test(err.message), text);
  }
});

test("what must be a Service, and what may be a pod", () => {
  assert.equal(namesService("web"), false);
  for (const t of ["web:80", "ns/web", "10.96.0.1"]) assert.equal(namesService(t), true, t);
});
