/** The CNI spec versions weft speaks, and which verbs each one has. */

/** Every version VERSION reports, oldest first. */
export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: CniVersion = "1.1.0";

export function isSupported(v: unknown): v is CniVersion {
  return typeof v === "string" && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** True when `v` is at least `min` (both supported versions). */
export function atLeast(v: CniVersion, min: CniVersion): boolean {
  return SUPPORTED_VERSIONS.indexOf(v) >= SUPPORTED_VERSIONS.indexOf(min);
}

/** The first version that has each verb (CHECK came in 0.4.0, STATUS and GC in 1.1.0). */
export const VERB_SINCE: Record<string, CniVersion> = { ADD: "0.3.0", DEL: "0.3.0", CHECK: "0.4.0", STATUS: "1.1.0", GC: "1.1.0" };
