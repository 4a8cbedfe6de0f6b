/**
 * The Prometheus text exposition format 0.0.4, for every component's
 * `/metrics`: each family gets its HELP and TYPE lines, label values are
 * escaped, and a family with no samples is left out (a gauge that has no
 * value yet is absent rather than a false 0).
 *
 * Hand-written rather than prom-client: the agent only renders what it
 * already counts, and prom-client costs the agent about 60 ms of start-up
 * and 16-22 MB of resident memory (measured on Node 24 with 2,000
 * observations), a third of the agent's whole footprint.
 */
import type { HistogramSnapshot } from "./histogram.ts";

/** The content type a scraper expects for this format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type Labels = Record<string, string>;
export interface Sample {
  /** Appended to the family name, e.g. `_bucket`. */
  suffix?: string;
  labels?: Labels;
  value: number;
}
export type MetricType = "gauge" | "counter" | "histogram";

/** Collects families, then renders them in the order they were added. */
export class Exposition {
  readonly #lines: string[] = [];

  family(name: string, type: MetricType, help: string, samples: readonly Sample[]): this {
    if (samples.length === 0) return this;
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    for (const s of samples) this.#lines.push(`${name}${s.suffix ?? ""}${formatLabels(s.labels)} ${formatValue(s.value)}`);
    return this;
  }

  histogram(name: string, help: string, h: HistogramSnapshot, labels?: Labels): this {
    return this.family(name, "histogram", help, histogramSamples(h, labels));
  }

  text(): string {
    return this.#lines.join("\n") + "\n";
  }
}

/** A histogram's cumulative `_bucket` samples (ending in +Inf), `_sum` and `_count`. */
export function histogramSamples(h: HistogramSnapshot, labels: Labels = {}): Sample[] {
  return [
    ...h.bounds.map((le, i) => ({ suffix: "_bucket", labels: { ...labels, le: String(le) }, value: h.counts[i]! })),
    { suffix: "_bucket", labels: { ...labels, le: "+Inf" }, value: h.count },
    { suffix: "_sum", labels, value: h.sum },
    { suffix: "_count", labels, value: h.count },
  ];
}

function formatLabels(labels: Labels | undefined): string {
  if (!labels || Object.keys(labels).length === 0) return "";
  return `{${Object.entries(labels)
    .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
    .join(",")}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Escapes a label value: backslash, double quote and line feed. */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
