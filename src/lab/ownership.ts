/**
 * What a lab may remove: only what its own records say it made, each thing
 * identified by more than its name, since anyone can create a namespace
 * called lab-node1.
 *
 * - made.json, written by `up` as soon as it has claimed the lab directory,
 *   holds the lab's random id and, before `up` creates them, the names of
 *   the namespaces it is about to create. Pod namespaces are in the pods'
 *   records (state.ts), written before the runtime creates them.
 * - Every namespace the lab creates carries the lab's mark, the alias
 *   `weft-lab:NAME:ID` on its loopback, set in the same `ip -batch` that
 *   creates it. A recorded name whose namespace lacks the mark was replaced
 *   by someone else's and is left alone.
 * - Processes: those inside a namespace the lab owns, and a pod's command by
 *   its process group and start time (procs.ts), which survive the deletion
 *   of its namespace's name.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRunner } from "../kernel/runner.ts";
import { WeftError } from "../lib/errors.ts";
import type { LabLayout } from "./layout.ts";
import { writeJsonAtomic } from "./state.ts";
import { labNamespaces, listNamespaces } from "./topology.ts";

/** made.json. */
export interface LabMade {
  /** Random, chosen by `up`; part of every namespace's mark. */
  id: string;
  /** Every namespace `up` created or was about to create. */
  namespaces: string[];
}

/** Error code: a lab without records, whose namespaces weft will not touch. */
export const LAB_NOT_MADE_BY_WEFT = "LAB_NOT_MADE_BY_WEFT";

function madeFile(lab: LabLayout): string {
  return join(lab.dir, "made.json");
}

/** Starts the lab's records with a new id; `up` calls it right after claiming the lab directory. */
export function startRecords(lab: LabLayout): LabMade {
  const made = { id: randomBytes(8).toString("hex"), namespaces: [] };
  writeJsonAtomic(madeFile(lab), made);
  return made;
}

/** Adds `names` to the namespaces the lab made; called before creating them. */
export function recordNamespaces(lab: LabLayout, made: LabMade, names: readonly string[]): void {
  made.namespaces.push(...names.filter((n) => !made.namespaces.includes(n)));
  writeJsonAtomic(madeFile(lab), made);
}

/** The lab's records, or undefined when it has none. */
export function readRecords(lab: LabLayout): LabMade | undefined {
  try {
    return JSON.parse(readFileSync(madeFile(lab), "utf8")) as LabMade;
  } catch {
    return undefined;
  }
}

/** The lab's mark, from its records; throws LAB_NOT_MADE_BY_WEFT when it has none. */
export function markOfLab(lab: LabLayout): string {
  const made = readRecords(lab);
  if (!made) {
    throw new WeftError(LAB_NOT_MADE_BY_WEFT, `lab ${lab.name} has no records in ${lab.dir}`, { hint: `bring it down and up again: weft lab down --name ${lab.name}` });
  }
  return labMark(lab, made);
}

/** The mark every namespace of the lab carries (no spaces: it goes through `ip -batch`). */
export function labMark(lab: LabLayout, made: LabMade): string {
  return `weft-lab:${lab.name}:${made.id}`;
}

/** The `ip -batch` lines that mark namespace `ns` as the lab's; they follow its `netns add`. */
export function markLines(ns: string, mark: string): string[] {
  return [`netns exec ${ns} ip ${markLine(mark)}`];
}

/** The `ip` command (without `ip`) that marks the namespace it runs in, bringing its loopback up as well. */
export function markLine(mark: string): string {
  return `link set dev lo up alias ${mark}`;
}

/** Of `names`, those that exist and carry `mark`: the lab's. */
export async function ownedAmong(names: readonly string[], mark: string): Promise<string[]> {
  const present = new Set(listNamespaces());
  const existing = names.filter((n) => present.has(n));
  const marks = await Promise.all(existing.map(markOf));
  return existing.filter((_, i) => marks[i] === mark);
}

/** A namespace's mark (its loopback's alias), or undefined. */
async function markOf(ns: string): Promise<string | undefined> {
  const r = await createRunner().exec(["ip", "-n", ns, "-j", "link", "show", "dev", "lo"]);
  if (r.code !== 0) return undefined;
  try {
    return (JSON.parse(r.stdout) as { ifalias?: string }[])[0]?.ifalias;
  } catch {
    return undefined;
  }
}

/** The LAB_NOT_MADE_BY_WEFT error for a lab with no records but namespaces named like its own. */
export function notMadeByWeft(lab: LabLayout): WeftError {
  const strays = labNamespaces(lab);
  return new WeftError(LAB_NOT_MADE_BY_WEFT, `lab ${lab.name} has no records in ${lab.dir}, so weft did not make ${strays.join(", ")}; nothing was removed`, {
    hint: `if they are yours to remove, delete them with ip netns del (until then, weft lab up --name ${lab.name} refuses the names they take)`,
  });
}
