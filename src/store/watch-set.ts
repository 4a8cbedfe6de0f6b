/**
 * The watches a store has handed out, so `close()` can stop them all.
 * Stopping is idempotent and removes the watch from the set.
 */
export class WatchSet {
  readonly #stops = new Set<() => void>();

  /** Registers a running watch by its stop function; returns the stop to hand to the caller. */
  track(stopWatch: () => void): () => void {
    const stop = (): void => {
      if (!this.#stops.delete(stop)) return;
      stopWatch();
    };
    this.#stops.add(stop);
    return stop;
  }

  /** Stops every watch still running. */
  stopAll(): void {
    for (const stop of [...this.#stops]) stop();
  }
}
