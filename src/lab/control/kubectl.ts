/**
 * The pinned kubectl with the lab's admin kubeconfig (`weft lab kubectl`).
 * The API server listens at 192.168.125.100 inside the lab, which the host's
 * own namespace cannot reach (the lab never changes it), so kubectl runs in
 * the control plane's namespace, as an admin would run it on kube0.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { WeftError } from "../../lib/errors.ts";
import type { LabLayout } from "../layout.ts";
import type { LabState } from "../state.ts";
import { kubeBinary } from "./binaries.ts";
import { controlPaths } from "./paths.ts";

/** The admin kubeconfig of a lab that runs Kubernetes; throws LAB_NO_KUBERNETES for a --no-kubernetes lab. */
export function adminKubeconfig(lab: LabLayout, state: LabState): string {
  if (!state.kubernetes) {
    throw new WeftError("LAB_NO_KUBERNETES", `lab ${lab.name} runs no Kubernetes (it was made with --no-kubernetes)`, {
      hint: `run weft lab down --name ${lab.name}, then weft lab up --name ${lab.name} without --no-kubernetes`,
    });
  }
  return controlPaths(lab).adminConf;
}

/**
 * The argv that runs the pinned kubectl with `args` as the lab's admin. Its
 * discovery cache goes to the lab's directory, not ~/.kube/cache: a lab
 * writes nothing outside its directory.
 */
export function kubectlArgv(lab: LabLayout, state: LabState, args: readonly string[]): string[] {
  const kubeconfig = adminKubeconfig(lab, state);
  return ["ip", "netns", "exec", lab.controlNs, kubeBinary("kubectl"), `--kubeconfig=${kubeconfig}`, `--cache-dir=${controlPaths(lab).kubectlCacheDir}`, ...args];
}

/** Runs kubectl with stdio inherited; resolves with its exit status (128 + signal number when killed). */
export function runKubectl(lab: LabLayout, state: LabState, args: readonly string[]): Promise<number> {
  const [cmd, ...rest] = kubectlArgv(lab, state, args);
  const child = spawn(cmd!, rest, { stdio: "inherit" });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, sig) => resolve(code ?? 128 + (sig ? (constants.signals[sig] ?? 0) : 0)));
  });
}
