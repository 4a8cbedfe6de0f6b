/**
 * Scenarios: named variations of the lab topology that reproduce a failure
 * seen in real clusters (`weft lab up --scenario NAME`). A scenario adds
 * `ip` batch lines to each node's namespace after the plain topology is
 * built. A new scenario is one entry in SCENARIOS.
 */
import { WeftError } from "../lib/errors.ts";
import type { LabNode } from "./state.ts";

/** One scenario. */
export interface Scenario {
  /** One line for `weft lab up --help`. */
  summary: string;
  /** Extra `ip -batch` lines run in the node's namespace. */
  nodeCommands(node: LabNode): string[];
}

/** The scenarios `--scenario` accepts. */
export const SCENARIOS: Record<string, Scenario> = {
  // Vagrant and many cloud images give every machine the same NAT interface
  // (10.0.2.15 behind 10.0.2.2) carrying the default route. An agent that
  // picks "the interface of the default route" then advertises 10.0.2.15 on
  // every node and no pod traffic crosses nodes; `--iface eth0` is the fix.
  "nat-iface": {
    summary: "every node also has eth1 = 10.0.2.15/24 carrying the default route, like Vagrant's NAT interface",
    nodeCommands: () => [
      "link add eth1 type veth peer name nat0",
      "addr add 10.0.2.15/24 dev eth1",
      "link set eth1 up",
      "link set nat0 up",
      "route replace default via 10.0.2.2 dev eth1",
    ],
  },
};

/** The scenario called `name`, or SCENARIO_UNKNOWN listing the known ones. */
export function findScenario(name: string): Scenario {
  const s = SCENARIOS[name];
  if (!s) {
    throw new WeftError("SCENARIO_UNKNOWN", `unknown scenario "${name}"`, { hint: `known scenarios: ${Object.keys(SCENARIOS).join(", ")}` });
  }
  return s;
}
