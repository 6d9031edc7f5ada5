/**
 * A small Prometheus metrics kit: counters, gauges and histograms with labels, rendered in the
 * text exposition format 0.0.4. No runtime APIs, so it runs wherever the handler runs (Workers
 * included).
 *
 * @module
 */

/** The `Content-Type` of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Latency buckets in seconds (Prometheus client defaults, extended for long transfers). */
export const DEFAULT_SECONDS_BUCKETS: readonly number[] = [
  0.001,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
];

const SEP = "\u0001";

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function number(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return Number.isNaN(value) ? "NaN" : String(value);
}

/** `{a="x",b="y"}` for label names and one joined key of values; "" without labels. */
function labelText(names: readonly string[], key: string, extra = ""): string {
  if (names.length === 0) return extra ? `{${extra}}` : "";
  const values = key.split(SEP);
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? "")}"`);
  if (extra) parts.push(extra);
  return `{${parts.join(",")}}`;
}

/** Something that renders itself as text exposition lines. */
export interface Collector {
  /** The metric family's lines, HELP and TYPE included. */
  render(): string;
}

/** What counters, gauges and histograms share. */
abstract class Family implements Collector {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: string;

  constructor(name: string, help: string, labelNames: readonly string[]) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`bad metric name ${name}`);
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  protected header(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
  }

  abstract render(): string;
}

/** The label values (up to three), in label-name order, joined into one map key. */
export function labelKey(a: string, b?: string, c?: string): string {
  if (b === undefined) return a;
  return c === undefined ? a + SEP + b : a + SEP + b + SEP + c;
}

/** A monotonically increasing count per label set. */
export class Counter extends Family {
  readonly type = "counter";
  #values = new Map<string, { v: number }>();

  /** Add `by` (default 1) to the series of the label values `key` (see {@link labelKey}). */
  inc(key = "", by = 1): void {
    const series = this.#values.get(key);
    if (series) series.v += by;
    else this.#values.set(key, { v: by });
  }

  /** The current value of a series (0 when never incremented). */
  get(key = ""): number {
    return this.#values.get(key)?.v ?? 0;
  }

  /**
   * The series of `key` as a mutable handle (`handle.v += n`), created at 0 if new: hot paths keep
   * handles instead of looking the key up per increment.
   */
  series(key = ""): { v: number } {
    let series = this.#values.get(key);
    if (!series) this.#values.set(key, series = { v: 0 });
    return series;
  }

  render(): string {
    let out = this.header();
    for (const [key, { v }] of this.#values) {
      out += `${this.name}${labelText(this.labelNames, key)} ${number(v)}\n`;
    }
    return out;
  }
}

/** A value that goes up and down per label set; or read at render time through `collect`. */
export class Gauge extends Family {
  readonly type: "gauge" | "counter";
  #values = new Map<string, { v: number }>();
  #collect: (() => Iterable<[string, number]>) | undefined;

  /**
   * @param collect When given, the series are read from it at each render (label key → value)
   *   instead of being set.
   * @param type `counter` for a count kept elsewhere and only read here (with `collect`).
   */
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    collect?: () => Iterable<[string, number]>,
    type: "gauge" | "counter" = "gauge",
  ) {
    super(name, help, labelNames);
    this.#collect = collect;
    this.type = type;
  }

  /** Set a series. */
  set(key: string, value: number): void {
    const series = this.#values.get(key);
    if (series) series.v = value;
    else this.#values.set(key, { v: value });
  }

  /** Add to a series (negative to subtract). */
  add(key: string, by: number): void {
    const series = this.#values.get(key);
    if (series) series.v += by;
    else this.#values.set(key, { v: by });
  }

  /** The current value of a series. */
  get(key = ""): number {
    return this.#values.get(key)?.v ?? 0;
  }

  /** The series of `key` as a mutable handle (`handle.v += n`), created at 0 if new. */
  series(key = ""): { v: number } {
    let series = this.#values.get(key);
    if (!series) this.#values.set(key, series = { v: 0 });
    return series;
  }

  render(): string {
    let out = this.header();
    const series = this.#collect
      ? this.#collect()
      : [...this.#values].map(([key, { v }]): [string, number] => [key, v]);
    for (const [key, value] of series) {
      out += `${this.name}${labelText(this.labelNames, key)} ${number(value)}\n`;
    }
    return out;
  }
}

/** One histogram series: per-bucket (non-cumulative) counts, sum and count. */
export interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into cumulative buckets per label set, with their sum and count. */
export class Histogram extends Family {
  readonly type = "histogram";
  readonly buckets: readonly number[];
  #series = new Map<string, HistogramSeries>();

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    buckets: readonly number[] = DEFAULT_SECONDS_BUCKETS,
  ) {
    super(name, help, labelNames);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  /** Record one observation in the series `key`. */
  observe(key: string, value: number): void {
    this.observeIn(this.series(key), value);
  }

  /** The series of `key` as a handle for {@link Histogram.observeIn}, created empty if new. */
  series(key = ""): HistogramSeries {
    let s = this.#series.get(key);
    if (!s) {
      s = { counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    return s;
  }

  /** Record one observation in a series handle. */
  observeIn(s: HistogramSeries, value: number): void {
    const b = this.buckets;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    if (i < b.length) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  /** Count and sum of a series. */
  get(key = ""): { count: number; sum: number } {
    const s = this.#series.get(key);
    return { count: s?.count ?? 0, sum: s?.sum ?? 0 };
  }

  render(): string {
    let out = this.header();
    for (const [key, s] of this.#series) {
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += s.counts[i];
        const le = `le="${number(this.buckets[i])}"`;
        out += `${this.name}_bucket${labelText(this.labelNames, key, le)} ${cumulative}\n`;
      }
      out += `${this.name}_bucket${labelText(this.labelNames, key, 'le="+Inf"')} ${s.count}\n`;
      out += `${this.name}_sum${labelText(this.labelNames, key)} ${number(s.sum)}\n`;
      out += `${this.name}_count${labelText(this.labelNames, key)} ${s.count}\n`;
    }
    return out;
  }
}
