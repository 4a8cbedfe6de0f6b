/**
 * `weft lab down`: removes everything a lab made, whatever state it is in,
 * and nothing it did not make (ownership.ts). It needs no state.json: the
 * namespaces come from made.json, written before `up` created them, the pods
 * from pods/*.json, the processes from /proc (everything in a namespace the
 * lab owns, and each pod's command by its recorded process group and start
 * time). So a lab whose `up` died half-way, or whose supervisor was killed,
 * still comes down completely. A lab without records is refused: every
 * namespace named like it was made by someone else.
 *
 * Order: stop the supervisor (it stops the agents, the outside server and
 * etcd) while every pod gets its CNI DEL; kill whatever still runs in a lab
 * namespace; delete the namespaces; delete the lab directory.
 */
import { existsSync, rmSync } from "node:fs";
import { stopSupervisor } from "./daemons.ts";
import { removeLabRootIfEmpty } from "./lab-root.ts";
import { labLayout, validateLabName, type LabLayout } from "./layout.ts";
import { kubeletPodNamespaces } from "./kubelet/records.ts";
import { labMark, notMadeByWeft, ownedAmong, readRecords } from "./ownership.ts";
import { pidsInNamespaces, stopProcesses } from "./procs.ts";
import { removePod } from "./runtime.ts";
import { readPodRecords } from "./state.ts";
import { deleteNamespaces, labNamespaces, listNamespaces } from "./topology.ts";

/** How long the supervisor gets to stop its processes before it is killed. */
const SUPERVISOR_STOP_MS = 1500;

/** How `down` runs. */
export interface DownOptions {
  /**
   * Set by the `up` that made the lab, cleaning up after itself: every
   * recorded namespace that exists is the lab's, marked or not (an
   * interrupted `up` may have created one without its mark). Default false.
   */
  madeHere?: boolean;
}

/**
 * Removes lab `name`; `say` receives warnings. Resolves false when there was
 * nothing to remove; throws LAB_NOT_MADE_BY_WEFT when namespaces are named
 * like the lab's but it has no records.
 */
export async function labDown(name: string, say: (line: string) => void, options: DownOptions = {}): Promise<boolean> {
  const lab = labLayout(validateLabName(name));
  const records = readRecords(lab);
  if (!records) {
    if (labNamespaces(lab).length > 0) throw notMadeByWeft(lab);
    if (!existsSync(lab.dir)) return false;
    // A directory without records: an `up` that died before it created anything.
    await stopSupervisor(lab, SUPERVISOR_STOP_MS);
    removeLabDir(lab);
    return true;
  }

  const pods = readPodRecords(lab);
  const [, ...removals] = await Promise.all([
    stopSupervisor(lab, SUPERVISOR_STOP_MS),
    ...pods.map((p) => removePod(lab, p.name, { force: true }).catch((err: unknown) => ({ removed: false, warning: String(err) }))),
  ]);
  for (const r of removals) if (r.warning) say(`warning: ${r.warning}`);

  // The lab kubelets' pod namespaces are in their pod records, as the runtime's are in pods/*.json.
  const recorded = [...records.namespaces, ...kubeletPodNamespaces(lab.dir)];
  const namespaces = await namespacesToDelete(recorded, labMark(lab, records), options.madeHere ?? false);
  await stopProcesses([...pidsInNamespaces(namespaces).values()].flat(), 0);
  await deleteNamespaces(namespaces);
  const left = labNamespaces(lab);
  if (left.length > 0) say(`warning: left alone ${left.join(", ")}: named like lab ${lab.name}'s namespaces, but not made by it`);
  removeLabDir(lab);
  return true;
}

/** Of the recorded namespaces, those to delete: the marked ones, or with `madeHere` every one that exists. */
async function namespacesToDelete(recorded: readonly string[], mark: string, madeHere: boolean): Promise<string[]> {
  if (madeHere) {
    const present = new Set(listNamespaces());
    return recorded.filter((ns) => present.has(ns));
  }
  return ownedAmong(recorded, mark);
}

function removeLabDir(lab: LabLayout): void {
  rmSync(lab.dir, { recursive: true, force: true });
  removeLabRootIfEmpty();
}
