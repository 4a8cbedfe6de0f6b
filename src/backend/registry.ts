/**
 * The backends by name, as `--backend NAME` spells them. A new backend is a
 * folder under backend/ plus one line here.
 */
import { WeftError } from "../lib/errors.ts";
import { HostGwBackend } from "./hostgw/hostgw.ts";
import type { Backend, BackendFactory, BackendOptions } from "./types.ts";
import { VxlanBackend } from "./vxlan/vxlan.ts";

/** Every backend weft has. */
export const BACKENDS: Readonly<Record<string, BackendFactory>> = {
  vxlan: (options) => new VxlanBackend(options),
  "host-gw": (options) => new HostGwBackend(options),
};

/** The default backend. */
export const DEFAULT_BACKEND = "vxlan";

/** Builds backend `name`; throws UNKNOWN_BACKEND listing the known ones. */
export function createBackend(name: string, options: BackendOptions): Backend {
  const factory = Object.hasOwn(BACKENDS, name) ? BACKENDS[name] : undefined;
  if (factory === undefined) {
    throw new WeftError("UNKNOWN_BACKEND", `unknown backend "${name}"`, { hint: `use one of: ${Object.keys(BACKENDS).join(", ")}` });
  }
  return factory(options);
}
