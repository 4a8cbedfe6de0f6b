/**
 * Measures the largest IPv4 packet the underlay carries from this node to a
 * peer's public IP: don't-fragment pings of growing size. Doctor runs it
 * only for a peer whose full-size pod packets were lost (the agent's
 * /connections `mtuOk` is false), so the fix can name the MTU the path
 * really has instead of "something smaller".
 *
 * The search is two rounds of pings sent all at once (a lost ping costs its
 * whole timeout, so one at a time would take many seconds): sizes 32 bytes
 * apart, then every size in the gap above the largest that passed.
 */
import type { Runner } from "../kernel/runner.ts";

/** The smallest packet every IPv4 path must carry (RFC 791). */
export const MIN_IPV4_MTU = 576;
/** IPv4 header (20) plus ICMP header (8): what `ping -s` does not count. */
const ICMP_OVERHEAD = 28;
const COARSE_STEP = 32;

/** True when a packet of `size` bytes gets through. */
export type Fits = (size: number) => Promise<boolean>;

/** The largest size in [MIN_IPV4_MTU, max] that fits (sizes that fit are assumed to be all those up to some bound), or null when none does. */
export async function searchPathMtu(fits: Fits, max: number): Promise<number | null> {
  const coarse: number[] = [];
  for (let s = MIN_IPV4_MTU; s < max; s += COARSE_STEP) coarse.push(s);
  coarse.push(max);
  const best = await largestFitting(fits, coarse);
  if (best === null || best === max) return best;
  const fine: number[] = [];
  for (let s = best + 1; s < Math.min(best + COARSE_STEP, max); s++) fine.push(s);
  return (await largestFitting(fits, fine)) ?? best;
}

async function largestFitting(fits: Fits, sizes: readonly number[]): Promise<number | null> {
  const results = await Promise.all(sizes.map(fits));
  let best: number | null = null;
  results.forEach((ok, i) => {
    if (ok) best = Math.max(best ?? 0, sizes[i]!);
  });
  return best;
}

/** Fits for don't-fragment pings from the runner's namespace to `ip`, each given one second in all (-w; with -q, -W alone lets a lost ping take two). */
export function pingFits(runner: Runner, ip: string): Fits {
  return async (size) => {
    const r = await runner.exec(["ping", "-n", "-q", "-c", "1", "-w", "1", "-M", "do", "-s", String(size - ICMP_OVERHEAD), ip]);
    return r.code === 0;
  };
}
