/**
 * What the API server checks on a NetworkPolicy and weft relies on, for
 * objects that did not come through an API server (tests, tools). A policy
 * that fails keeps isolating the pods it selects, with the broken rule
 * allowing nothing: failing closed, as a half-read policy must.
 */
import { WeftError } from "../lib/errors.ts";
import { ipBlockRanges } from "./ranges.ts";
import { checkSelector, POLICY_INVALID } from "./selector.ts";
import type { NetworkPolicy, PolicyRule } from "./types.ts";

const PORT_NAME = /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

/** Throws POLICY_INVALID naming the policy and field; returns nothing when the policy is sound. */
export function checkPolicy(p: NetworkPolicy): void {
  const where = `NetworkPolicy ${p.namespace}/${p.name}`;
  checkSelector(p.podSelector, `${where}: spec.podSelector`);
  p.ingress.forEach((r, i) => checkRule(r, `${where}: spec.ingress[${i}]`));
  p.egress.forEach((r, i) => checkRule(r, `${where}: spec.egress[${i}]`));
}

/** Throws POLICY_INVALID for a rule the API server refuses; `where` names it. */
export function checkRule(r: PolicyRule, where: string): void {
  for (const [i, peer] of (r.peers ?? []).entries()) {
    const at = `${where}.peers[${i}]`;
    const selectors = peer.podSelector !== undefined || peer.namespaceSelector !== undefined;
    if (peer.ipBlock !== undefined && selectors) throw new WeftError(POLICY_INVALID, `${at}: ipBlock cannot be combined with a selector`, { hint: "make them two peers" });
    if (peer.ipBlock === undefined && !selectors) throw new WeftError(POLICY_INVALID, `${at}: a peer needs podSelector, namespaceSelector or ipBlock`);
    if (peer.podSelector) checkSelector(peer.podSelector, `${at}.podSelector`);
    if (peer.namespaceSelector) checkSelector(peer.namespaceSelector, `${at}.namespaceSelector`);
    if (peer.ipBlock) {
      try {
        ipBlockRanges(peer.ipBlock.cidr, peer.ipBlock.except);
      } catch (err) {
        throw new WeftError(POLICY_INVALID, `${at}.ipBlock: ${(err as Error).message}`, { hint: "write the block as a.b.c.d/len" });
      }
    }
  }
  for (const [i, port] of (r.ports ?? []).entries()) {
    const at = `${where}.ports[${i}]`;
    if (!["TCP", "UDP", "SCTP"].includes(port.protocol)) throw new WeftError(POLICY_INVALID, `${at}: protocol "${port.protocol}" is not TCP, UDP or SCTP`);
    if (typeof port.port === "number" && !(Number.isInteger(port.port) && port.port >= 1 && port.port <= 65535)) {
      throw new WeftError(POLICY_INVALID, `${at}: port ${port.port} is not in 1-65535`);
    }
    if (typeof port.port === "string" && !PORT_NAME.test(port.port)) throw new WeftError(POLICY_INVALID, `${at}: "${port.port}" is not a port name (IANA_SVC_NAME)`);
    if (port.endPort !== undefined) {
      if (typeof port.port !== "number") throw new WeftError(POLICY_INVALID, `${at}: endPort needs a numeric port`);
      if (!(Number.isInteger(port.endPort) && port.endPort >= port.port && port.endPort <= 65535)) {
        throw new WeftError(POLICY_INVALID, `${at}: endPort ${port.endPort} is not in ${port.port}-65535`);
      }
    }
  }
}
