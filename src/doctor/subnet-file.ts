/** The node's subnet file as the checks read it: parsed by the same code the CNI plugin uses. */
import { describeError } from "../lib/errors.ts";
import { parseSubnetFile, type NodeSubnet } from "../subnet/file.ts";
import type { NodeFacts, Read } from "./facts.ts";

/** The parsed subnet file, or why it cannot be read or parsed. */
export function parsedSubnetFile(node: NodeFacts): Read<NodeSubnet> {
  const text = node.cni.subnetFile;
  if (!text.ok) return text;
  try {
    return { ok: true, value: parseSubnetFile(text.value, node.paths.subnetFile) };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}
