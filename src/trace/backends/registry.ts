/**
 * The backends trace knows, by the name lab state and the agent use. A new
 * backend is one file in this folder and one line here.
 */
import { WeftError } from "../../lib/errors.ts";
import { hostGwTrace } from "./hostgw.ts";
import type { BackendTrace } from "./types.ts";
import { vxlanTrace } from "./vxlan.ts";

/** Every backend's trace, by backend name. */
export const BACKEND_TRACES: Record<string, BackendTrace> = {
  vxlan: vxlanTrace,
  "host-gw": hostGwTrace,
};

/** The trace of backend `name`; throws TRACE_BACKEND_UNKNOWN for a backend trace does not know. */
export function backendTrace(name: string): BackendTrace {
  const found = BACKEND_TRACES[name];
  if (!found) {
    throw new WeftError("TRACE_BACKEND_UNKNOWN", `weft trace does not know the backend "${name}"`, { hint: `it traces ${Object.keys(BACKEND_TRACES).join(" and ")}` });
  }
  return found;
}
