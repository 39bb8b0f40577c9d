/**
 * A small Prometheus registry (OBS-5). Hand-written because the hot path matters: recording a request is
 * one Map lookup and a few array increments, with no label-object allocation per request.
 */
const esc = (v: string): string => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

function labelText(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return "";
  return `{${names.map((n, i) => `${n}="${esc(values[i] ?? "")}"`).join(",")}}`;
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly series = new Map<string, { values: readonly string[]; n: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labels: readonly string[] = [],
  ) {}

  inc(values: readonly string[] = [], by = 1): void {
    const key = values.join("\u0000");
    const s = this.series.get(key);
    if (s) s.n += by;
    else this.series.set(key, { values: [...values], n: by });
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const s of this.series.values())
      lines.push(`${this.name}${labelText(this.labels, s.values)} ${s.n}`);
    return lines.join("\n");
  }
}

export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}

  render(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n${this.name} ${this.read()}`;
  }
}

/** A gauge with one series per label set, read when scraped (e.g. one per security claim). */
export class GaugeSet implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labels: readonly string[],
    private readonly read: () => readonly (readonly [values: readonly string[], n: number])[],
  ) {}

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const [values, n] of this.read()) lines.push(`${this.name}${labelText(this.labels, values)} ${n}`);
    return lines.join("\n");
  }
}

export const DEFAULT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export class Histogram implements Metric {
  private readonly series = new Map<
    string,
    { values: readonly string[]; counts: number[]; sum: number; n: number }
  >();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labels: readonly string[] = [],
    readonly buckets: readonly number[] = DEFAULT_BUCKETS,
  ) {}

  observe(values: readonly string[], seconds: number): void {
    const key = values.join("\u0000");
    let s = this.series.get(key);
    if (!s) {
      s = { values: [...values], counts: new Array(this.buckets.length).fill(0), sum: 0, n: 0 };
      this.series.set(key, s);
    }
    // Non-cumulative per bucket here; made cumulative when rendered, which is rare.
    let i = 0;
    while (i < this.buckets.length && seconds > this.buckets[i]!) i++;
    if (i < this.buckets.length) s.counts[i]!++;
    s.sum += seconds;
    s.n++;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      let acc = 0;
      this.buckets.forEach((b, i) => {
        acc += s.counts[i]!;
        lines.push(
          `${this.name}_bucket${labelText([...this.labels, "le"], [...s.values, String(b)])} ${acc}`,
        );
      });
      lines.push(`${this.name}_bucket${labelText([...this.labels, "le"], [...s.values, "+Inf"])} ${s.n}`);
      lines.push(`${this.name}_sum${labelText(this.labels, s.values)} ${s.sum}`);
      lines.push(`${this.name}_count${labelText(this.labels, s.values)} ${s.n}`);
    }
    return lines.join("\n");
  }
}

/** Where capabilities register their metrics; `/metrics` renders them all. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();

  private add<T extends Metric & { name: string }>(m: T): T {
    if (this.metrics.has(m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.set(m.name, m);
    return m;
  }

  counter(name: string, help: string, labels: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labels));
  }

  histogram(
    name: string,
    help: string,
    labels: readonly string[] = [],
    buckets?: readonly number[],
  ): Histogram {
    return this.add(new Histogram(name, help, labels, buckets));
  }

  gauge(name: string, help: string, read: () => number): Gauge {
    return this.add(new Gauge(name, help, read));
  }

  gauges(
    name: string,
    help: string,
    labels: readonly string[],
    read: () => readonly (readonly [values: readonly string[], n: number])[],
  ): GaugeSet {
    return this.add(new GaugeSet(name, help, labels, read));
  }

  render(): string {
    return `${[...this.metrics.values()].map((m) => m.render()).join("\n")}\n`;
  }
}
