import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureLabRoot, removeLabRootIfEmpty } from "../lab/lab-root.ts";
import { labLayout } from "../lab/layout.ts";
import type { LabState } from "../lab/state.ts";
import { findLabPod } from "./lab-pods.ts";

const skip = process.getuid?.() !== 0 ? "needs root (the lab directory is under /run/weft/lab)" : false;
const lab = labLayout(`t${process.pid}-tracepods`);
const state = { nodes: [{ name: "node1" }, { name: "node2" }] } as LabState;
const find = (ref: string) => {
  try {
    return findLabPod(lab, state, ref);
  } catch (err) {
    if ((err as { code?: string }).code === "POD_NOT_FOUND") return undefined;
    throw err;
  }
};
after(() => {
  rmSync(lab.dir, { recursive: true, force: true });
  removeLabRootIfEmpty();
});

/** A lab kubelet's record of pod `ns/name` on `node`. */
function kubeletRecord(node: string, namespace: string, name: string, ip: string, extra: Record<string, unknown> = {}): void {
  const uid = `${namespace}-${name}-${node}`;
  const dir = join(lab.dir, node, "kubelet", "pods", uid);
  ensureLabRoot();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "record.json"), JSON.stringify({ uid, namespace, name, hostNetwork: false, netns: `${lab.name}-pod-${namespace}.${name}`, sandboxId: `sb-${uid}`, network: "weft", ip, createdAt: "2026-12-07T00:00:00Z", portMappings: [], prepared: true, containers: [], ...extra }));
}

test("trace finds a lab kubelet's pods by NAME or NAMESPACE/NAME, and says which to name when two namespaces have one", { skip }, () => {
  kubeletRecord("node1", "pe", "s", "10.244.0.3");
  kubeletRecord("node2", "pe", "web", "10.244.1.4");
  kubeletRecord("node2", "other", "web", "10.244.1.5");
  kubeletRecord("node1", "kube-system", "agent", "192.168.125.101", { hostNetwork: true });
  const s = find("s");
  assert.deepEqual([s?.name, s?.namespace, s?.node, s?.ip, s?.netns], ["s", "pe", "node1", "10.244.0.3", `${lab.name}-pod-pe.s`]);
  assert.equal(find("other/web")?.ip, "10.244.1.5");
  assert.throws(() => find("web"), (e: Error & { code?: string; hint?: string }) => e.code === "POD_AMBIGUOUS" && /namespaces pe, other|namespaces other, pe/.test(e.message) && e.hint === "name one as NAMESPACE/web");
  assert.equal(find("agent"), undefined, "a hostNetwork pod has no path of its own");
  assert.equal(find("nope"), undefined);
});
