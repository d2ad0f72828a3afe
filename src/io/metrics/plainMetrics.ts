import type { Metric, Registry } from 'prom-client';

/** Label values of one series. */
export type Labels = Record<string, string>;

/**
 * One histogram series kept as plain numbers: a count per bucket (not
 * cumulative), their sum and count. The counts are a plain array, not a
 * Float64Array: a typed array of a dozen doubles keeps its bytes outside the
 * heap, one more cold cache line per query when every query counts into
 * another table's series.
 */
export interface HistogramSeries {
  readonly buckets: number[];
  sum: number;
  count: number;
}

export function newHistogramSeries(bounds: readonly number[]): HistogramSeries {
  const buckets: number[] = [];
  for (let i = 0; i < bounds.length; i++) buckets.push(0);
  return { buckets, sum: 0, count: 0 };
}

/** Counts `value` into its bucket: a linear scan of a dozen bounds, no allocation. */
export function observe(series: HistogramSeries, bounds: readonly number[], value: number): void {
  series.sum += value;
  series.count += 1;
  for (let i = 0; i < bounds.length; i++) {
    if (value <= bounds[i]!) {
      series.buckets[i]! += 1;
      return;
    }
  }
}

interface Sample {
  labels: Labels;
  value: number;
  metricName?: string;
}

/**
 * Registers a counter or gauge whose values live in the proxy's own plain
 * numbers and are read only when the registry is scraped (or pushed to
 * Falcon): the hot path increments a field, prom-client builds its label
 * hashes and strings once per scrape instead of once per request.
 */
export function registerPlain(
  registry: Registry,
  metric: { name: string; help: string; type: 'counter' | 'gauge'; read(): Iterable<readonly [Labels, number]> },
): void {
  const get = async () => {
    const values: Sample[] = [];
    for (const [labels, value] of metric.read()) values.push({ labels, value });
    return { name: metric.name, help: metric.help, type: metric.type, values, aggregator: 'sum' as const };
  };
  registry.registerMetric({ name: metric.name, help: metric.help, type: metric.type, get, reset() {} } as unknown as Metric);
}

/** Registers a histogram over plain series, exported as prom-client's own histograms are: cumulative `_bucket`s, `_sum`, `_count`. */
export function registerPlainHistogram(
  registry: Registry,
  metric: { name: string; help: string; bounds: readonly number[]; read(): Iterable<readonly [Labels, HistogramSeries]> },
): void {
  const { name, bounds } = metric;
  const get = async () => {
    const values: Sample[] = [];
    for (const [labels, series] of metric.read()) {
      let cumulative = 0;
      for (let i = 0; i < bounds.length; i++) {
        cumulative += series.buckets[i]!;
        values.push({ labels: { ...labels, le: String(bounds[i]) }, value: cumulative, metricName: `${name}_bucket` });
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: series.count, metricName: `${name}_bucket` });
      values.push({ labels, value: series.sum, metricName: `${name}_sum` });
      values.push({ labels, value: series.count, metricName: `${name}_count` });
    }
    return { name, help: metric.help, type: 'histogram' as const, values, aggregator: 'sum' as const };
  };
  registry.registerMetric({ name, help: metric.help, type: 'histogram', get, reset() {} } as unknown as Metric);
}
