/**
 * A Prometheus histogram kept as cumulative counts from process start: one
 * count per bucket bound, a sum and a count, each only ever growing, so a
 * scraper's `rate()` and `histogram_quantile()` work however long the
 * process runs. Memory is one number per bucket, whatever the number of
 * observations.
 */

/** What a histogram holds at one moment; `counts[i]` is the observations ≤ `bounds[i]` (cumulative). */
export interface HistogramSnapshot {
  /** Upper bounds, ascending; +Inf is implied and equals `count`. */
  bounds: readonly number[];
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram {
  readonly #bounds: readonly number[];
  /** Observations that fell in each bucket alone (not cumulative). */
  readonly #inBucket: number[];
  #sum = 0;
  #count = 0;

  /** `bounds`: ascending finite upper bounds. */
  constructor(bounds: readonly number[]) {
    for (let i = 0; i < bounds.length; i++) {
      if (!Number.isFinite(bounds[i]) || (i > 0 && bounds[i]! <= bounds[i - 1]!)) throw new RangeError(`histogram bounds must be finite and ascending: ${bounds.join(", ")}`);
    }
    this.#bounds = [...bounds];
    this.#inBucket = bounds.map(() => 0);
  }

  /** Records one value (e.g. a duration in seconds). */
  observe(value: number): void {
    const i = this.#bounds.findIndex((le) => value <= le);
    if (i >= 0) this.#inBucket[i]!++;
    this.#sum += value;
    this.#count++;
  }

  snapshot(): HistogramSnapshot {
    let running = 0;
    return { bounds: this.#bounds, counts: this.#inBucket.map((n) => (running += n)), sum: this.#sum, count: this.#count };
  }
}
