/**
 * One hop of a traced path: where it is, what was found there and, when it
 * is broken, what is missing and how to fix it. Hops are built by the pure
 * functions under hops/ and backends/ and rendered by render.ts.
 */

/** `ok`: the kernel state carries the packet on; `broken`: it does not; `unknown`: an earlier break hides it. */
export type HopStatus = "ok" | "broken" | "unknown";

/** One hop. */
export interface Hop {
  /** Where: "pod a", "node1". */
  at: string;
  /** What: "eth0", "route", "bridge weft0", "vxlan weft.1", … */
  what: string;
  status: HopStatus;
  /** What was found, one line. */
  found: string;
  /** When broken: what is missing or wrong. */
  missing?: string;
  /** When broken: how to fix it. */
  fix?: string;
  /** Observations that do not break the path but may matter. */
  notes: string[];
}

/** A hop that carries the packet on. */
export function ok(at: string, what: string, found: string, notes: string[] = []): Hop {
  return { at, what, status: "ok", found, notes };
}

/** A hop that stops the packet, with what is missing and how to fix it. */
export function broken(at: string, what: string, found: string, missing: string, fix: string, notes: string[] = []): Hop {
  return { at, what, status: "broken", found, missing, fix, notes };
}

/** A hop that cannot be judged because something it depends on is broken. */
export function unknown(at: string, what: string, why: string): Hop {
  return { at, what, status: "unknown", found: why, notes: [] };
}
