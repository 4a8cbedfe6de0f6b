/**
 * Label selectors (metav1.LabelSelector): matchLabels and matchExpressions
 * (In, NotIn, Exists, DoesNotExist), ANDed. The empty selector matches
 * everything; NotIn and DoesNotExist match objects without the key.
 */
import { WeftError } from "../lib/errors.ts";
import type { LabelSelector, Labels } from "./types.ts";

/** Error code: a policy or selector the API server would refuse. */
export const POLICY_INVALID = "POLICY_INVALID";

/** True when `labels` satisfy every term of `s`. */
export function matchesSelector(s: LabelSelector, labels: Labels): boolean {
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const r of s.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, r.key);
    switch (r.operator) {
      case "In":
        if (!has || !r.values.includes(labels[r.key]!)) return false;
        break;
      case "NotIn":
        if (has && r.values.includes(labels[r.key]!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
    }
  }
  return true;
}

/** True for the selector with no terms (matches everything). */
export function isEmptySelector(s: LabelSelector): boolean {
  return Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0;
}

/** Throws POLICY_INVALID, naming `where`, for a selector the API server refuses (an operator's values wrong). */
export function checkSelector(s: LabelSelector, where: string): void {
  for (const [i, r] of (s.matchExpressions ?? []).entries()) {
    const at = `${where}.matchExpressions[${i}]`;
    if (!["In", "NotIn", "Exists", "DoesNotExist"].includes(r.operator)) {
      throw new WeftError(POLICY_INVALID, `${at}: unknown operator "${r.operator}"`, { hint: "use In, NotIn, Exists or DoesNotExist" });
    }
    const needsValues = r.operator === "In" || r.operator === "NotIn";
    if (needsValues && r.values.length === 0) throw new WeftError(POLICY_INVALID, `${at}: operator ${r.operator} needs at least one value`, { hint: "list the values, or use Exists" });
    if (!needsValues && r.values.length > 0) throw new WeftError(POLICY_INVALID, `${at}: operator ${r.operator} takes no values`, { hint: "remove values, or use In" });
  }
}

/** A canonical text of a selector (same meaning, same text), for naming and comparing. */
export function selectorText(s: LabelSelector): string {
  const labels = Object.entries(s.matchLabels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`);
  const exprs = (s.matchExpressions ?? []).map((r) => `${r.key} ${r.operator} (${[...r.values].sort().join(",")})`).sort();
  return [...labels, ...exprs].join(",");
}
