/**
 * How doctor reads a node's 10-weft.conflist: only what the checks need
 * (the plugin order and the weft entry's subnet file), with the plugin's
 * own default for a subnetFile the entry does not name.
 */
import { WeftError } from "../lib/errors.ts";
import { DEFAULT_SUBNET_FILE } from "../subnet/file.ts";

/** What doctor reads from a conflist. */
export interface ConflistSummary {
  cniVersion: string;
  /** The plugins' types in chain order. */
  types: string[];
  /** The subnet file the weft entry reads, or null without a weft entry. */
  subnetFile: string | null;
}

/** Error code: the conflist is not a conflist. */
export const CONFLIST_INVALID = "CONFLIST_INVALID";

/** Reads the conflist at `path` from its text; throws CONFLIST_INVALID saying what is wrong. */
export function summarizeConflist(text: string, path: string): ConflistSummary {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new WeftError(CONFLIST_INVALID, `${path} is not valid JSON: ${(err as Error).message}`);
  }
  const list = (typeof doc === "object" && doc !== null ? doc : {}) as { cniVersion?: unknown; plugins?: unknown };
  if (!Array.isArray(list.plugins) || list.plugins.length === 0) {
    throw new WeftError(CONFLIST_INVALID, `${path} has no "plugins" list`);
  }
  const plugins = list.plugins as { type?: unknown; subnetFile?: unknown }[];
  const types = plugins.map((p) => (typeof p?.type === "string" ? p.type : "<no type>"));
  const weft = plugins.find((p) => p?.type === "weft");
  return {
    cniVersion: typeof list.cniVersion === "string" ? list.cniVersion : "<none>",
    types,
    subnetFile: weft === undefined ? null : typeof weft.subnetFile === "string" ? weft.subnetFile : DEFAULT_SUBNET_FILE,
  };
}
