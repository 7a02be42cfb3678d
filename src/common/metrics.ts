/**
 * Prometheus metrics plumbing shared by both daemons (prom-client, the standard Node
 * client). Each daemon has its own `Registry` (never prom-client's global one), so two
 * daemons in one process (tests, the benchmark's rigs) never mix their figures.
 *
 * Most figures already exist as state the daemon keeps (namespace counts, queue sizes,
 * plain counters on hot paths): they are read at scrape time by a `collect` callback
 * (`gaugesOf`, `countersOf`, `labelledOf`) instead of being kept twice. A hot path then pays one integer
 * add, and the scrape pays the reading. Histograms are observed where the duration is
 * known, through label children looked up once (`HistogramChildren`), never per call.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Latency buckets (seconds) from 100 µs to ~30 s, for RPCs, disk syncs and transfers. */
export const SECONDS_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/**
 * prom-client's default gauges named like counters, which `promtool check metrics` refuses
 * ("non-counter metrics should not have _total suffix"); the same figures remain, by type,
 * in nodejs_active_handles, nodejs_active_requests and nodejs_active_resources.
 */
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** A registry with prom-client's default process and runtime metrics. */
export function daemonRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
  return registry;
}

/** Metrics read at scrape time, by name: their help text and how to read the value. */
export type ReadTable = Record<string, readonly [help: string, read: () => number]>;

/** Gauges whose values are read at scrape time. */
export function gaugesOf(registry: Registry, table: ReadTable): void {
  for (const [name, [help, read]] of Object.entries(table)) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  }
}

/** Counters kept as plain numbers elsewhere (a hot path adds to them), read at scrape time. */
export function countersOf(registry: Registry, table: ReadTable): void {
  for (const [name, [help, read]] of Object.entries(table)) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }
}

/**
 * A gauge or a counter with one label, its values read at scrape time (only the label
 * values returned are shown); a counter's values are plain numbers kept elsewhere.
 */
export function labelledOf<L extends string>(
  registry: Registry,
  kind: 'gauge' | 'counter',
  name: string,
  help: string,
  label: L,
  read: () => Iterable<readonly [string, number]>,
): void {
  const config = { name, help, labelNames: [label], registers: [registry] };
  const labels = (value: string): Record<L, string> => ({ [label]: value }) as Record<L, string>;
  if (kind === 'gauge')
    new Gauge({
      ...config,
      collect() {
        this.reset();
        for (const [v, n] of read()) this.labels(labels(v)).set(n);
      },
    });
  else
    new Counter({
      ...config,
      collect() {
        this.reset();
        for (const [v, n] of read()) this.labels(labels(v)).inc(n);
      },
    });
}

/** A histogram with one label whose children are made once per label value and kept. */
export class HistogramChildren<K extends string | number> {
  private readonly children = new Map<K, { observe(v: number): void }>();
  readonly histogram: Histogram;

  constructor(
    registry: Registry,
    name: string,
    help: string,
    private readonly label: string,
    private readonly labelValue: (key: K) => string,
    buckets: number[] = SECONDS_BUCKETS,
  ) {
    this.histogram = new Histogram({ name, help, labelNames: [label], buckets, registers: [registry] });
  }

  /** The child for `key`; made on first use (label values are a small fixed set). */
  child(key: K): { observe(v: number): void } {
    let c = this.children.get(key);
    if (c === undefined) {
      c = this.histogram.labels({ [this.label]: this.labelValue(key) });
      this.children.set(key, c);
    }
    return c;
  }
}
