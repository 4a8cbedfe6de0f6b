/**
 * Retrying store calls while the store is down, and saying so once.
 *
 * StoreHealth turns a stream of failures into two log lines, one when the
 * store goes away and one when it is back, so a store that is down for an
 * hour does not fill the log; the status API shows the latest error.
 */
import { describeError, WeftError } from "../lib/errors.ts";
import { STORE_UNAVAILABLE } from "../store/types.ts";

/** Backoff delays in ms: 250, 500, 1000 … capped at `maxMs`. */
export function backoffMs(attempt: number, maxMs = 10_000): number {
  return Math.min(250 * 2 ** Math.min(attempt, 16), maxMs);
}

/** Whether an error means "try again later" rather than "this is wrong". */
export function isTransient(err: unknown): boolean {
  return err instanceof WeftError && err.code === STORE_UNAVAILABLE;
}

/** Tracks whether the last store call worked, logging only the transitions. */
export class StoreHealth {
  #healthy = true;
  #lastError: string | null = null;
  readonly #what: string;
  readonly #log: (line: string) => void;

  /** `what` names the store in log lines, e.g. `embedded store /var/lib/weft/store`. */
  constructor(what: string, log: (line: string) => void) {
    this.#what = what;
    this.#log = log;
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  get lastError(): string | null {
    return this.#lastError;
  }

  /** Records a failed call; logs once per outage. */
  failed(err: unknown, doing: string): void {
    this.#lastError = describeError(err);
    if (!this.#healthy) return;
    this.#healthy = false;
    this.#log(`${this.#what} is unavailable while ${doing}: ${this.#lastError}; keeping the current routes and retrying with backoff`);
  }

  /** Records a call that worked; logs when it ends an outage. */
  ok(): void {
    if (this.#healthy) return;
    this.#healthy = true;
    this.#log(`${this.#what} is back`);
  }
}
