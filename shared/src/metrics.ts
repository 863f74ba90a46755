/**
 * A small Prometheus metrics registry (text exposition format 0.0.4) shared by
 * the control plane and the agent. Hot-path cost: a counter increment is a Map
 * lookup by a precomputed label key; callers that increment per request should
 * keep the returned child (`counter.labels(...)`) instead of re-resolving it.
 */

type LabelValues = readonly string[];

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(names: readonly string[], values: LabelValues, extra = ''): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

interface Metric {
  readonly name: string;
  render(): string;
}

abstract class Family<Child> implements Metric {
  protected readonly children = new Map<string, { values: LabelValues; child: Child }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly type: string,
  ) {}

  protected abstract create(): Child;
  protected abstract renderChild(values: LabelValues, child: Child): string[];

  /** The child for these label values (created on first use); keep it on hot paths. */
  labels(...values: string[]): Child {
    const key = values.join('\u0000');
    let entry = this.children.get(key);
    if (!entry) {
      entry = { values, child: this.create() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  /** Drops every labelled child (e.g. gauges rebuilt from state on each scrape). */
  reset(): void {
    this.children.clear();
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const { values, child } of this.children.values()) lines.push(...this.renderChild(values, child));
    return lines.join('\n');
  }
}

export class CounterChild {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class Counter extends Family<CounterChild> {
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames, 'counter');
  }
  protected create(): CounterChild {
    return new CounterChild();
  }
  protected renderChild(values: LabelValues, c: CounterChild): string[] {
    return [`${this.name}${labelText(this.labelNames, values)} ${c.value}`];
  }
  inc(by = 1): void {
    this.labels().inc(by);
  }
}

export class GaugeChild {
  value = 0;
  set(v: number): void {
    this.value = v;
  }
  inc(by = 1): void {
    this.value += by;
  }
  dec(by = 1): void {
    this.value -= by;
  }
}

export class Gauge extends Family<GaugeChild> {
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames, 'gauge');
  }
  protected create(): GaugeChild {
    return new GaugeChild();
  }
  protected renderChild(values: LabelValues, g: GaugeChild): string[] {
    return [`${this.name}${labelText(this.labelNames, values)} ${g.value}`];
  }
  set(v: number): void {
    this.labels().set(v);
  }
}

export class HistogramChild {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array(bounds.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    // Buckets are cumulative only when rendered; here each value lands in one bucket.
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]) {
        this.counts[i]++;
        return;
      }
    }
  }
}

/** Default buckets in seconds, from 0.5 ms to 10 s. */
export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Histogram extends Family<HistogramChild> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    private readonly bounds: readonly number[] = LATENCY_BUCKETS_SECONDS,
  ) {
    super(name, help, labelNames, 'histogram');
  }
  protected create(): HistogramChild {
    return new HistogramChild(this.bounds);
  }
  protected renderChild(values: LabelValues, h: HistogramChild): string[] {
    const lines: string[] = [];
    let cumulative = 0;
    this.bounds.forEach((bound, i) => {
      cumulative += h.counts[i];
      lines.push(`${this.name}_bucket${labelText(this.labelNames, values, `le="${bound}"`)} ${cumulative}`);
    });
    lines.push(`${this.name}_bucket${labelText(this.labelNames, values, 'le="+Inf"')} ${h.count}`);
    lines.push(`${this.name}_sum${labelText(this.labelNames, values)} ${h.sum}`);
    lines.push(`${this.name}_count${labelText(this.labelNames, values)} ${h.count}`);
    return lines;
  }
  observe(v: number): void {
    this.labels().observe(v);
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A set of metrics rendered together; `beforeRender` hooks refresh gauges from live state. */
export class MetricsRegistry {
  private readonly metrics: Metric[] = [];
  private readonly hooks: (() => void)[] = [];

  register<M extends Metric>(metric: M): M {
    if (this.metrics.some((m) => m.name === metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.metrics.push(metric);
    return metric;
  }
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.register(new Counter(name, help, labelNames));
  }
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.register(new Gauge(name, help, labelNames));
  }
  histogram(name: string, help: string, labelNames: readonly string[] = [], bounds?: readonly number[]): Histogram {
    return this.register(new Histogram(name, help, labelNames, bounds));
  }
  beforeRender(hook: () => void): void {
    this.hooks.push(hook);
  }
  render(): string {
    for (const h of this.hooks) h();
    return `${this.metrics.map((m) => m.render()).join('\n')}\n`;
  }
}
