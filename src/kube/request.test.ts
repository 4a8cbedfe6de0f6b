/**
 * kubeRequest (request.ts) against a stand-in API server on loopback: the
 * body as JSON of its type with the kubeconfig's credentials, the answer
 * parsed, and errors the callers read as the library's.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { apiMessage, apiStatus } from "./client.ts";
import { kubeRequest, MERGE_PATCH_BODY } from "./request.ts";
import { writeLoopbackKubeconfig } from "../../test/support/fake-kube-api.ts";

describe("kubeRequest", { timeout: 30_000 }, () => {
  const seen: { method: string; url: string; type: string | undefined; auth: string | undefined; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      seen.push({ method: req.method!, url: req.url!, type: req.headers["content-type"], auth: req.headers.authorization, body });
      if (req.url!.includes("missing")) return void res.writeHead(404, { "Content-Type": "application/json" }).end(JSON.stringify({ kind: "Status", message: 'pods "missing" not found', code: 404, details: { kind: "pods", name: "missing" } }));
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ kind: "Pod", metadata: { name: "p" } }));
    });
  });
  let dir: string;
  const kc = new KubeConfig();
  before(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    dir = mkdtempSync(join(tmpdir(), "weft-request-"));
    kc.loadFromFile(writeLoopbackKubeconfig(join(dir, "kubeconfig"), (server.address() as { port: number }).port));
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  test("sends the body as JSON of its type with the kubeconfig's credentials, and parses the answer", async () => {
    const got = await kubeRequest<{ metadata: { name: string } }>(kc, "PATCH", "/api/v1/namespaces/ns/pods/p/status", { status: { phase: "Running" } }, MERGE_PATCH_BODY);
    assert.equal(got.metadata.name, "p");
    assert.deepEqual(seen.at(-1), { method: "PATCH", url: "/api/v1/namespaces/ns/pods/p/status", type: MERGE_PATCH_BODY, auth: "Bearer t", body: '{"status":{"phase":"Running"}}' });
  });

  test("undici is the library's own copy: request() is given the dispatcher the library made", () => {
    const here = createRequire(import.meta.url);
    const library = createRequire(here.resolve("@kubernetes/client-node"));
    assert.equal(here.resolve("undici"), library.resolve("undici"));
  });

  test("an HTTP error is the library's ApiException: its status, the API server's message and details", async () => {
    const err = await kubeRequest(kc, "GET", "/api/v1/namespaces/ns/pods/missing").then(() => null, (e: unknown) => e);
    assert.equal(apiStatus(err), 404);
    assert.equal(apiMessage(err), 'pods "missing" not found (HTTP 404)');
    assert.equal(JSON.parse(String((err as { body: unknown }).body)).details.name, "missing");
  });
});
