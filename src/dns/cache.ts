/**
 * The cache of forwarded answers: keyed by lower-case name, type and
 * class; an entry lives for the smallest TTL among its answer records (a
 * positive answer) or for the SOA's negative TTL, min(SOA TTL, SOA
 * minimum) (NXDOMAIN and NODATA, RFC 2308 5), never longer than `maxTtl`.
 * An answer without a TTL to go by (a negative one without SOA, SERVFAIL)
 * is not kept. At most `size` entries: the least recently used goes first.
 * Served records carry their TTL minus the time spent in the cache.
 *
 * A handle (get, peek) names one stored entry: the response memo
 * (handler.ts) keeps the encoded answer beside it and asks `touch` on each
 * reuse whether the entry still lives (not expired, evicted or replaced),
 * which counts as a use for the least-recently-used order (to within a
 * second), and how old it is, so the memo ages its TTLs by the same seconds as `get` would.
 */
import type { Answer } from "dns-packet";

export interface CachedAnswer {
  rcode: number;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

interface Entry extends CachedAnswer {
  key: string;
  storedAt: number;
  expiresAt: number;
  /** When it was last moved to the recent end of the LRU order. */
  usedAt: number;
  /** Set once the entry left the cache (expired, evicted or replaced). */
  gone: boolean;
}

/** One stored entry, as get and peek return it (for touch; nothing to read for callers). */
export interface CacheHandle {
  readonly storedAt: number;
}

export class AnswerCache {
  readonly #size: number;
  readonly #maxTtl: number;
  readonly #now: () => number;
  /** Insertion order is recency order: a hit moves its entry to the end (a touch, at most once a second). */
  readonly #entries = new Map<string, Entry>();

  /** `size` entries at most (0: keep nothing), `maxTtl` seconds at most; `now` in ms (tests move time). */
  constructor(size: number, maxTtl: number, now: () => number = Date.now) {
    this.#size = size;
    this.#maxTtl = maxTtl;
    this.#now = now;
  }

  get entries(): number {
    return this.#entries.size;
  }

  /** The cached answer with TTLs aged, the ms it stays valid, its age in whole seconds and its handle; or undefined. */
  get(key: string): { answer: CachedAnswer; remainingMs: number; age: number; handle: CacheHandle } | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    const now = this.#now();
    if (now >= e.expiresAt) {
      this.#drop(e);
      return undefined;
    }
    e.usedAt = now;
    this.#entries.delete(key);
    this.#entries.set(key, e);
    const age = Math.floor((now - e.storedAt) / 1000);
    const aged = (rrs: Answer[]) => (age === 0 ? rrs : rrs.map((r) => (r.type === "OPT" ? r : { ...r, ttl: Math.max(0, (r.ttl ?? 0) - age) })));
    return {
      answer: { rcode: e.rcode, answers: aged(e.answers), authorities: aged(e.authorities), additionals: aged(e.additionals) },
      remainingMs: e.expiresAt - now,
      age,
      handle: e,
    };
  }

  /** The handle of the live entry under `key` (no use counted), or undefined. */
  peek(key: string): CacheHandle | undefined {
    const e = this.#entries.get(key);
    return e && this.#now() < e.expiresAt ? e : undefined;
  }

  /**
   * A use of the entry behind `handle`, as get without building the answer:
   * its age in whole seconds, or -1 once it has left the cache (it is then
   * no longer to be served). The entry moves to the recent end of the LRU
   * order at most once a second (bench/dns-wire: moving it on every reuse
   * costs ~0.35 µs, more than half of what a reused answer costs besides).
   */
  touch(handle: CacheHandle): number {
    const e = handle as Entry;
    if (e.gone) return -1;
    const now = this.#now();
    if (now >= e.expiresAt) {
      this.#drop(e);
      return -1;
    }
    if (now - e.usedAt >= 1000) {
      e.usedAt = now;
      this.#entries.delete(e.key);
      this.#entries.set(e.key, e);
    }
    return Math.floor((now - e.storedAt) / 1000);
  }

  #drop(e: Entry): void {
    e.gone = true;
    this.#entries.delete(e.key);
  }

  /** Keeps `answer` for its TTL; returns the seconds it is kept (0: not kept). */
  put(key: string, answer: CachedAnswer): number {
    if (this.#size === 0) return 0;
    const ttl = Math.min(this.#maxTtl, cacheTtl(answer));
    if (!(ttl > 0)) return 0;
    const now = this.#now();
    const old = this.#entries.get(key);
    if (old) this.#drop(old);
    this.#entries.set(key, { rcode: answer.rcode, answers: answer.answers, authorities: answer.authorities, additionals: answer.additionals, key, storedAt: now, expiresAt: now + ttl * 1000, usedAt: now, gone: false });
    while (this.#entries.size > this.#size) this.#drop(this.#entries.values().next().value!);
    return ttl;
  }
}

/** How long an answer may be cached, in seconds (0: not at all). */
export function cacheTtl(a: CachedAnswer): number {
  if (a.rcode === 0 && a.answers.length > 0) return Math.min(...a.answers.map((r) => (r as { ttl?: number }).ttl ?? 0));
  if (a.rcode === 0 || a.rcode === 3) {
    const soa = a.authorities.find((r) => r.type === "SOA");
    if (soa && soa.type === "SOA") return Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0);
  }
  return 0;
}
