/**
 * `weft lab down`: removes everything a lab made, whatever state it is in.
 * It trusts state.json for nothing: the namespaces come from /run/netns
 * (every name the lab owns), the processes from /proc (every process in one
 * of those namespaces), the pods from pods/*.json. So a lab whose `up` died
 * half-way, or whose supervisor was killed, still comes down completely.
 *
 * Order: stop the supervisor (it stops the agents, the outside server and
 * etcd) while every pod gets its CNI DEL; kill whatever still runs in a lab
 * namespace; delete the namespaces; delete the lab directory.
 */
import { existsSync, rmdirSync, rmSync } from "node:fs";
import { stopSupervisor } from "./daemons.ts";
import { LAB_ROOT, labLayout, validateLabName } from "./layout.ts";
import { pidsInNamespaces, stopProcesses } from "./procs.ts";
import { removePod } from "./runtime.ts";
import { readPodRecords } from "./state.ts";
import { deleteNamespaces, labNamespaces } from "./topology.ts";

/** How long the supervisor gets to stop its processes before it is killed. */
const SUPERVISOR_STOP_MS = 1500;

/** Removes lab `name`; `say` receives warnings. Resolves false when there was nothing to remove. */
export async function labDown(name: string, say: (line: string) => void): Promise<boolean> {
  const lab = labLayout(validateLabName(name));
  if (!existsSync(lab.dir) && labNamespaces(lab).length === 0) return false;

  const pods = readPodRecords(lab);
  const [, ...removals] = await Promise.all([
    stopSupervisor(lab, SUPERVISOR_STOP_MS),
    ...pods.map((p) => removePod(lab, p.name, { force: true }).catch((err: unknown) => ({ removed: false, warning: String(err) }))),
  ]);
  for (const r of removals) if (r.warning) say(`warning: ${r.warning}`);

  const namespaces = labNamespaces(lab);
  await stopProcesses([...pidsInNamespaces(namespaces).values()].flat(), 0);
  await deleteNamespaces(namespaces);
  rmSync(lab.dir, { recursive: true, force: true });
  try {
    rmdirSync(LAB_ROOT);
  } catch {
    // Other labs are up.
  }
  return true;
}
