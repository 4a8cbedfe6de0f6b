/**
 * Turns a query message into a response message: static hosts, then the
 * cluster zone (records.ts, lookup.ts), then the forwarding cache and the
 * upstreams. The cluster zone and its reverse names answer SERVFAIL
 * until the source has synced, so a client never caches a false NXDOMAIN
 * from a server that has not yet seen the Services.
 *
 * The response memo is the hot path: an encoded response per exact
 * question (its bytes as sent, so the name's case too, and EDNS0 or not),
 * reused with the query's ID, RD and CD bits until the zone changes
 * (cluster and hosts answers) or, for forwarded answers, as long as their
 * cache entry lives: each reuse touches the entry (a use, for the cache's
 * least-recently-used order; an entry expired, evicted or replaced ends
 * the memo too) and, once a second, the memo's TTL fields are patched in
 * place to count down with the entry's age (wire.ts ttlOffsets), as the
 * cache's own aging would. Measured with bench/dns-wire.ts on one
 * core: reading, looking up and encoding a cluster A answer with dns-packet
 * costs ~3.8 µs, a memo hit ~0.5 µs (the sockets cost more than either).
 * Forwarded memos used to be dropped after 0.5-1 s and rebuilt from the
 * cache (parse, aged copies of the records, dns-packet encode, behind a
 * promise): on bench/dns-local.ts's forwarded mix (1,000 names) that was
 * ~5% of the queries and ~1 µs of server CPU per query on average.
 */
import type { Answer } from "dns-packet";
import { AnswerCache, type CacheHandle, type CachedAnswer } from "./cache.ts";
import type { DnsConfig } from "./config.ts";
import { rcodeOf, type Forwarder } from "./forward.ts";
import { inZone, lookupZone } from "./lookup.ts";
import type { DnsMetrics } from "./metrics.ts";
import { buildZone, type Zone } from "./records.ts";
import type { DnsSource } from "./source.ts";
import { BADVERS, RCODE, className, encodeError, encodeResponse, parseQuery, quickQuestion, ttlOffsets, typeName, udpLimit, type Query, type ResponseParts } from "./wire.ts";
import packet_rcodes from "dns-packet/rcodes.js";

interface Memo {
  /** The whole answer, encoded; a query whose UDP size it exceeds takes the slow path (and gets TC). */
  bytes: Buffer;
  rcode: number;
  type: string;
  /** Date.now() after which the memo is stale. */
  until: number;
  /** A forwarded answer's: its cache entry, the entry's age (s) the TTLs in `bytes` are aged by, where they are. */
  cached: { handle: CacheHandle; age: number; ttlAt: number[] } | null;
}

/** A forwarded answer and its cache entry (none when it was not kept). */
interface Forwarded {
  answer: CachedAnswer;
  remainingMs: number;
  age: number;
  handle: CacheHandle | undefined;
}

/**
 * Memo entries kept at most (a few hundred bytes each); past it the memo
 * starts over, so clients asking random names cost rebuilt answers, not memory.
 */
const MEMO_MAX = 50_000;

export interface Handled {
  bytes: Buffer;
  type: string;
  rcode: number;
}

export class DnsHandler {
  readonly #config: DnsConfig;
  readonly #source: DnsSource;
  readonly #forwarder: Forwarder;
  readonly #metrics: DnsMetrics;
  readonly cache: AnswerCache;
  #zone: Zone;
  /** Whether the zone was built from a synced source (until then the cluster zone is SERVFAIL). */
  #synced = false;
  #memo = new Map<string, Memo>();

  constructor(config: DnsConfig, source: DnsSource, forwarder: Forwarder, metrics: DnsMetrics) {
    this.#config = config;
    this.#source = source;
    this.#forwarder = forwarder;
    this.#metrics = metrics;
    this.cache = new AnswerCache(config.cacheSize, config.cacheMaxTtl);
    this.#zone = this.#build();
  }

  /** The zone answered from now. */
  get zone(): Zone {
    return this.#zone;
  }

  /** True once the zone answered from was built from a synced source. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Rebuilds the zone from the source's snapshot (on every change) and forgets memoized answers. */
  rebuild(): void {
    this.#zone = this.#build();
    this.#memo = new Map();
  }

  #build(): Zone {
    // Asked before the snapshot is taken: a source that is synced now has all of its objects in it.
    this.#synced = this.#source.synced();
    return buildZone(this.#source.snapshot(), { zone: this.#config.zone, ttl: this.#config.ttl, pods: this.#config.pods, serial: Math.floor(Date.now() / 1000) });
  }

  /** The response to `msg` (null: drop it), at once when memoized, else when resolved. */
  handle(msg: Buffer, tcp: boolean): Handled | null | Promise<Handled | null> {
    const quick = quickQuestion(msg);
    if (quick !== null) {
      const memo = this.#memo.get(quick.key);
      if (memo !== undefined && memo.until > Date.now() && memo.bytes.length <= (tcp ? 65535 : quick.udpLimit) && (memo.cached === null || this.#age(memo))) {
        const bytes = Buffer.allocUnsafe(memo.bytes.length);
        memo.bytes.copy(bytes);
        // The query's ID, RD and CD bits; everything else is the memoized answer's.
        bytes[0] = msg[0]!;
        bytes[1] = msg[1]!;
        bytes[2] = (bytes[2]! & 0xfe) | (msg[2]! & 0x01);
        bytes[3] = (bytes[3]! & 0xef) | (msg[3]! & 0x10);
        return { bytes, type: memo.type, rcode: memo.rcode };
      }
    }
    const q = parseQuery(msg);
    if ("problem" in q) {
      if (q.problem === "IGNORE") return null;
      const rcode = RCODE[q.problem];
      return { bytes: encodeError(q.id, q.flags, rcode, null), type: "none", rcode };
    }
    return this.#resolve(q, quick?.key ?? null, tcp);
  }

  /**
   * Whether a forwarded memo may be served: its cache entry still lives
   * (counted as a use, and as a cache hit in the metrics); its TTLs
   * patched to the entry's age first.
   */
  #age(memo: Memo): boolean {
    const c = memo.cached!;
    const age = this.cache.touch(c.handle);
    if (age < 0) {
      memo.until = 0;
      return false;
    }
    if (age > c.age) {
      const by = age - c.age;
      for (const at of c.ttlAt) memo.bytes.writeUInt32BE(Math.max(0, memo.bytes.readUInt32BE(at) - by), at);
      c.age = age;
    }
    this.#metrics.cacheHits++;
    return true;
  }

  async #resolve(q: Query, key: string | null, tcp: boolean): Promise<Handled> {
    const type = typeName(q.qtype);
    // A rebuild while an upstream is asked starts a new memo: an answer found before it (a
    // reverse name forwarded just before its Service appeared) must not be kept past it.
    const memoBefore = this.#memo;
    const { parts, memoMs, cached } = await this.#answer(q, type);
    const limit = tcp ? 65535 : udpLimit(q);
    if (memoMs > 0 && key !== null && this.#memo === memoBefore) {
      const full = encodeResponse(q, parts);
      if (this.#memo.size >= MEMO_MAX) this.#memo = new Map();
      this.#memo.set(key, {
        bytes: full, rcode: parts.rcode, type, until: Date.now() + memoMs,
        cached: cached === undefined ? null : { handle: cached.handle, age: cached.age, ttlAt: ttlOffsets(full) },
      });
      if (full.length <= limit) return { bytes: full, type, rcode: parts.rcode };
    }
    return { bytes: encodeResponse(q, parts, limit), type, rcode: parts.rcode };
  }

  /** The answer, how long (ms) its encoding may be reused (0: not at all), and for a forwarded one its cache entry and age. */
  async #answer(q: Query, type: string): Promise<{ parts: ResponseParts; memoMs: number; cached?: { handle: CacheHandle; age: number } }> {
    const fail = (rcode: number) => ({ parts: { rcode, aa: false, answers: [], authorities: [], additionals: [] }, memoMs: 0 });
    if (q.edns !== null && q.edns.version !== 0) return fail(BADVERS);
    if (q.qclass !== 1 && q.qclass !== 255) return fail(RCODE.REFUSED);
    const name = q.name.toLowerCase();
    const zone = this.#zone;

    // Static entries first, as CoreDNS's hosts plugin comes before kubernetes: they are the
    // operator's own, and answer even before the cluster objects are listed.
    const hosts = this.#hostsAnswer(q.name, name, type);
    if (hosts !== null) return { parts: hosts, memoMs: Infinity };

    if (inZone(zone, name) || name.endsWith(".in-addr.arpa") || name.endsWith(".ip6.arpa")) {
      if (!this.#synced) return fail(RCODE.SERVFAIL);
      const z = lookupZone(zone, q.name, type);
      if (z !== null) {
        const parts: ResponseParts = { rcode: RCODE[z.rcode], aa: true, answers: z.answers, authorities: z.authorities, additionals: z.additionals };
        if (z.chase === null) return { parts, memoMs: Infinity };
        // An ExternalName outside the zone: add the target's records, as CoreDNS does.
        const target = await this.#forward(z.chase, type, className(q.qclass), z.chase);
        if (target === null) return { parts, memoMs: 0 };
        return { parts: { ...parts, rcode: target.answer.rcode, answers: [...parts.answers, ...target.answer.answers] }, memoMs: 0 };
      }
    }

    const forwarded = await this.#forward(name, type, className(q.qclass), q.name);
    if (forwarded === null) return fail(RCODE.SERVFAIL);
    const a = forwarded.answer;
    const parts = { rcode: a.rcode, aa: false, answers: a.answers, authorities: a.authorities, additionals: a.additionals };
    // Reused while its cache entry lives, its TTLs counting down with the entry's (#age).
    if (forwarded.handle === undefined) return { parts, memoMs: 0 };
    return { parts, memoMs: forwarded.remainingMs, cached: { handle: forwarded.handle, age: forwarded.age } };
  }

  #hostsAnswer(asked: string, name: string, type: string): ResponseParts | null {
    const ttl = this.#config.ttl;
    const h = this.#config.hosts;
    const entry = h.byName.get(name);
    if (entry) {
      const answers: Answer[] = [];
      if (type === "A" || type === "ANY") for (const ip of entry.v4) answers.push({ name: asked, type: "A", class: "IN", ttl, data: ip });
      if (type === "AAAA" || type === "ANY") for (const ip of entry.v6) answers.push({ name: asked, type: "AAAA", class: "IN", ttl, data: ip });
      return { rcode: RCODE.NOERROR, aa: true, answers, authorities: [], additionals: [] };
    }
    const ptr = h.byReverse.get(name);
    if (ptr !== undefined) {
      const answers: Answer[] = type === "PTR" || type === "ANY" ? [{ name: asked, type: "PTR", class: "IN", ttl, data: ptr }] : [];
      return { rcode: RCODE.NOERROR, aa: true, answers, authorities: [], additionals: [] };
    }
    return null;
  }

  /** The cached or forwarded answer for `name`, owner names echoing `asked`; null when no upstream answered. */
  async #forward(name: string, type: string, klass: string, asked: string): Promise<Forwarded | null> {
    const key = `${type} ${klass} ${name.toLowerCase()}`;
    let hit: Forwarded | undefined = this.cache.get(key);
    if (hit) {
      this.#metrics.cacheHits++;
    } else {
      this.#metrics.cacheMisses++;
      if (this.#config.upstreams.length === 0) return null;
      const r = await this.#forwarder.resolve(name, type, klass);
      if (r === null) return null;
      const p = r.packet;
      const answer: CachedAnswer = {
        rcode: packet_rcodes.toRcode(rcodeOf(p)),
        answers: p.answers ?? [],
        authorities: p.authorities ?? [],
        additionals: (p.additionals ?? []).filter((a) => a.type !== "OPT"),
      };
      const ttl = this.cache.put(key, answer);
      hit = { answer, remainingMs: ttl * 1000, age: 0, handle: ttl > 0 ? this.cache.peek(key) : undefined };
    }
    const lower = name.toLowerCase();
    const echo = (rrs: Answer[]) => rrs.map((r) => (r.name !== asked && r.name.toLowerCase() === lower ? { ...r, name: asked } : r));
    return { ...hit, answer: { ...hit.answer, answers: echo(hit.answer.answers), authorities: hit.answer.authorities } };
  }
}
