/** A Namespace as weft's code sees it: its name (a Namespace being deleted still exists until it is gone). */
import type { V1Namespace } from "@kubernetes/client-node";

export interface Namespace {
  name: string;
}

export function fromV1Namespace(n: V1Namespace): Namespace {
  return { name: n.metadata?.name ?? "" };
}
