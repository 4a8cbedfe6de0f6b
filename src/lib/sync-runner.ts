/**
 * A bounded-frequency sync runner: it turns a stream of "something changed"
 * requests into few runs of one sync function (the idea of kube-proxy's
 * BoundedFrequencyRunner, written for an event loop).
 *
 *   - Coalescing: any number of requests before a run starts, or while one
 *     runs, become one run (the one after it). A run never overlaps another.
 *   - Rate: a token bucket of `burst` tokens refilled one per `minIntervalMs`;
 *     a run takes a token, so a quiet runner answers the first few changes
 *     at once and a busy one settles at one run per `minIntervalMs`.
 *   - Period: a run happens at least every `periodMs` (reason `periodic`),
 *     for full resyncs and drift repair.
 *   - Retry: a sync that throws is run again after `retryAfterMs`, doubling
 *     per consecutive failure up to `maxRetryMs` (reason `retry`), unless a
 *     request runs it sooner.
 *
 * The sync function decides what a reason means (e.g. a full sync on
 * `periodic`); the runner only decides when.
 */

/** Why a run happens; when several apply, `periodic` wins over `retry`, and `retry` over `request`. */
export type SyncReason = "request" | "periodic" | "retry";

export interface SyncRunnerOptions {
  /** The work; a rejection schedules a retry. */
  sync: (reason: SyncReason) => Promise<void>;
  /** Tokens refill one per this many ms. Default 100. */
  minIntervalMs?: number;
  /** Runs allowed back to back before `minIntervalMs` applies. Default 2. */
  burst?: number;
  /** A run at least this often (0: never). Default 0. */
  periodMs?: number;
  /** First retry delay after a failed run. Default 1,000. */
  retryAfterMs?: number;
  /** Longest retry delay. Default 30,000. */
  maxRetryMs?: number;
  /** The clock in ms; tests pass a fake one. Default Date.now. */
  now?: () => number;
  /** Called with a failed run's error (after which a retry is scheduled). Default: nothing. */
  onError?: (err: unknown, reason: SyncReason) => void;
}

export class SyncRunner {
  readonly #sync: (reason: SyncReason) => Promise<void>;
  readonly #minIntervalMs: number;
  readonly #burst: number;
  readonly #periodMs: number;
  readonly #retryAfterMs: number;
  readonly #maxRetryMs: number;
  readonly #now: () => number;
  readonly #onError: (err: unknown, reason: SyncReason) => void;

  #tokens: number;
  #refilledAt: number;
  #pending: SyncReason | undefined;
  #running: Promise<void> | undefined;
  /** Cancels the armed run timer. */
  #timer: (() => void) | undefined;
  #timerAt = Infinity;
  #periodTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #started = false;
  #stopped = false;
  /** Resolvers waiting for the next run to finish. */
  #waiters: (() => void)[] = [];

  constructor(o: SyncRunnerOptions) {
    this.#sync = o.sync;
    this.#minIntervalMs = o.minIntervalMs ?? 100;
    this.#burst = o.burst ?? 2;
    this.#periodMs = o.periodMs ?? 0;
    this.#retryAfterMs = o.retryAfterMs ?? 1000;
    this.#maxRetryMs = o.maxRetryMs ?? 30_000;
    this.#now = o.now ?? Date.now;
    this.#onError = o.onError ?? (() => {});
    if (!(this.#minIntervalMs >= 0) || !(this.#burst >= 1) || !(this.#periodMs >= 0) || !(this.#retryAfterMs > 0)) {
      throw new RangeError(`sync runner: minIntervalMs ≥ 0, burst ≥ 1, periodMs ≥ 0 and retryAfterMs > 0 are required`);
    }
    this.#tokens = this.#burst;
    this.#refilledAt = this.#now();
  }

  /** Starts the period timer; requests before start wait for it. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#armPeriod();
    if (this.#pending) this.#schedule();
  }

  /** Asks for a run soon; cheap to call for every event. */
  request(): void {
    this.#want("request");
  }

  /** Asks for a run and resolves when a run that started after this call has finished (successfully or not). */
  requestAndWait(): Promise<void> {
    const done = new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.request();
    return done;
  }

  /** Consecutive failed runs (0 after a success). */
  get failures(): number {
    return this.#failures;
  }

  /** Stops the timers and waits for a running sync; later requests are ignored. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clearTimer();
    for (const t of [this.#periodTimer, this.#retryTimer]) if (t) clearTimeout(t);
    this.#periodTimer = this.#retryTimer = undefined;
    await this.#running;
    for (const w of this.#waiters.splice(0)) w();
  }

  #want(reason: SyncReason): void {
    if (this.#stopped) return;
    this.#pending = strongest(this.#pending, reason);
    if (this.#started) this.#schedule();
  }

  /** Arms the run timer for when the next token is there (now, if one is). */
  #schedule(): void {
    if (this.#running || this.#pending === undefined) return; // #finish schedules again
    this.#refill();
    const delay = this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) * this.#minIntervalMs);
    const at = this.#now() + delay;
    if (this.#timer && this.#timerAt <= at) return;
    this.#clearTimer();
    this.#timerAt = at;
    const fire = () => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#run();
    };
    // A zero delay still waits for this turn of the event loop to end (setImmediate, not the timer
    // queue's 1 ms), so the requests of the events read in one go coalesce.
    if (delay === 0) {
      const t = setImmediate(fire);
      this.#timer = () => clearImmediate(t);
    } else {
      const t = setTimeout(fire, delay);
      this.#timer = () => clearTimeout(t);
    }
  }

  #clearTimer(): void {
    this.#timer?.();
    this.#timer = undefined;
  }

  #refill(): void {
    const now = this.#now();
    if (this.#minIntervalMs === 0) this.#tokens = this.#burst;
    else this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#refilledAt) / this.#minIntervalMs);
    this.#refilledAt = now;
  }

  #run(): void {
    if (this.#stopped || this.#running || this.#pending === undefined) return;
    this.#refill();
    if (this.#tokens < 1) return this.#schedule();
    this.#tokens -= 1;
    const reason = this.#pending;
    this.#pending = undefined;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const waiters = this.#waiters.splice(0);
    this.#running = this.#once(reason).finally(() => {
      this.#running = undefined;
      for (const w of waiters) w();
      this.#armPeriod();
      this.#schedule();
    });
  }

  async #once(reason: SyncReason): Promise<void> {
    try {
      await this.#sync(reason);
      this.#failures = 0;
    } catch (err) {
      this.#failures++;
      this.#onError(err, reason);
      if (this.#stopped) return;
      const delay = Math.min(this.#retryAfterMs * 2 ** (this.#failures - 1), this.#maxRetryMs);
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.#want("retry");
      }, delay);
    }
  }

  /** (Re)starts the period: the next periodic run is `periodMs` after the last run ended. */
  #armPeriod(): void {
    if (this.#periodMs === 0 || this.#stopped) return;
    if (this.#periodTimer) clearTimeout(this.#periodTimer);
    this.#periodTimer = setTimeout(() => {
      this.#periodTimer = undefined;
      this.#want("periodic");
    }, this.#periodMs);
  }
}

const RANK: Record<SyncReason, number> = { request: 0, retry: 1, periodic: 2 };

function strongest(a: SyncReason | undefined, b: SyncReason): SyncReason {
  return a === undefined || RANK[b] > RANK[a] ? b : a;
}
