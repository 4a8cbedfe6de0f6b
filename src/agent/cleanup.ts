/**
 * `weft agent --cleanup`: removes everything the agent made on this node —
 * the backend's kernel state (the vxlan device with its routes, neighbours
 * and FDB entries, or host-gw's proto-87 routes), the nftables tables `ip weft`,
 * `ip weft-proxy` (the service proxy's) and `inet weft-policy` (network policy),
 * the subnet file and the API socket — and releases this node's lease so
 * its subnet is free for others. Each step runs even when an earlier one
 * failed; what could not be done is reported at the end.
 *
 * The bridge weft0, the pods' veths and the IPAM store belong to the CNI
 * plugin and the pods, and stay; IP forwarding stays on.
 */
import { rmSync } from "node:fs";
import { createBackend } from "../backend/registry.ts";
import { describeError, WeftError } from "../lib/errors.ts";
import { createRunner, type Runner } from "../kernel/runner.ts";
import { createStore } from "../store/registry.ts";
import { AGENT_RUNNING } from "./api.ts";
import { agentPaths, storeOptions, type AgentConfig } from "./config.ts";
import { fetchAgent } from "./client.ts";
import { removeMasquerade } from "./masquerade.ts";
import { removeProxyTable } from "../proxy/proxy.ts";
import { applyTransaction } from "../kernel/nft/apply.ts";
import { NftTransaction } from "../kernel/nft/transaction.ts";
import { TABLE as POLICY_TABLE } from "../policy/compile.ts";

/** Removes the agent's state; returns one line per step done. Throws CLEANUP_INCOMPLETE listing what failed. */
export async function cleanupAgent(config: AgentConfig, runner: Runner = createRunner()): Promise<string[]> {
  const paths = agentPaths(config);
  let running = false;
  try {
    await fetchAgent(paths.socket, "/healthz");
    running = true;
  } catch {
    // nobody answers: safe to clean up
  }
  if (running) {
    throw new WeftError(AGENT_RUNNING, `an agent is running on ${paths.socket}`, { hint: "stop it first (it would put everything back at its next resync)" });
  }
  const done: string[] = [];
  const failed: string[] = [];
  const step = async (what: string, fn: () => Promise<void> | void) => {
    try {
      await fn();
      done.push(what);
    } catch (err) {
      failed.push(`${what}: ${describeError(err)}`);
    }
  };
  const backend = createBackend(config.backend, { runner, vni: config.vxlanVni, port: config.vxlanPort });
  await step(`removed the ${config.backend} backend's kernel state`, () => backend.cleanup());
  await step("removed the nftables table ip weft", () => removeMasquerade(runner));
  // Whether or not --service-proxy is given now: it may have run before.
  await step("removed the nftables table ip weft-proxy", () => removeProxyTable(runner));
  await step("removed the nftables table inet weft-policy", () => applyTransaction(runner, new NftTransaction(POLICY_TABLE).deleteTable()));
  await step(`released the lease of node ${config.nodeName}`, async () => {
    const store = createStore(config.store, storeOptions(config));
    try {
      for (const lease of await store.list()) {
        if (lease.attrs.node === config.nodeName) await store.release(lease.subnet, config.nodeName);
      }
    } finally {
      await store.close();
    }
  });
  await step(`removed ${paths.subnetFile} and ${paths.socket}`, () => {
    rmSync(paths.subnetFile, { force: true });
    rmSync(paths.socket, { force: true });
  });
  if (failed.length > 0) {
    throw new WeftError("CLEANUP_INCOMPLETE", `cleanup did not finish: ${failed.join("; ")}`, {
      hint: done.length ? `done: ${done.join("; ")}; fix the cause and run weft agent --cleanup again` : "fix the cause and run weft agent --cleanup again",
    });
  }
  return done;
}
