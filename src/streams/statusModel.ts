import type { MetricFamily } from '../model/metricsTypes.js';

/**
 * The status page's arithmetic over samples of the proxy's own metrics: what a
 * sample keeps, which samples to keep, and the last minute's rates, error
 * counts and 99th percentile between two samples. Counters only grow within
 * a process, so a difference of two samples is what happened in between.
 */

/** One reading of the metrics, reduced to the series the status page shows. */
export interface MetricsSample {
  /** Epoch ms (the scheduler's clock) when it was read. */
  at: number;
  /** Finite upper bounds of the latency histogram's buckets, ascending, in seconds. */
  bounds: number[];
  /** `client_query_config_count` by table. */
  queries: Map<string, number>;
  /** `query_config_latency_seconds_count` by table, then by code (summed over clusters). */
  answers: Map<string, Map<string, number>>;
  /** Cumulative bucket counts by table (summed over clusters and codes): one per bound, then +Inf. */
  buckets: Map<string, Float64Array>;
  /** `upstream_call_count` by meta, then by result. */
  upstream: Map<string, Map<string, number>>;
  /** `reroute_count` by table. */
  reroutes: Map<string, number>;
}

/** One table's traffic between two samples. */
export interface TableStats {
  rate: number;
  errors: Record<string, number>;
  p99Ms: number | null;
  p99Above: boolean;
}

/** What happened between two samples. */
export interface WindowStats {
  seconds: number;
  /** The newer sample's time. */
  at: number;
  tables: Map<string, TableStats>;
  /** Calls by meta, then by result. */
  upstream: Map<string, Record<string, number>>;
  queryRate: number;
  errorRate: number;
}

const QUERIES = 'client_query_config_count';
const LATENCY = 'query_config_latency_seconds';
const UPSTREAM = 'upstream_call_count';
const REROUTES = 'reroute_count';
const OK = 'ERR_OK';

/** Reduces a registry reading (every metric, every series) to a sample. */
export function readSample(families: readonly MetricFamily[], at: number): MetricsSample {
  const sample: MetricsSample = {
    at,
    bounds: [],
    queries: new Map(),
    answers: new Map(),
    buckets: new Map(),
    upstream: new Map(),
    reroutes: new Map(),
  };
  for (const family of families) {
    switch (family.name) {
      case QUERIES:
        for (const { labels, value } of family.values) add(sample.queries, label(labels.table), value);
        break;
      case REROUTES:
        for (const { labels, value } of family.values) add(sample.reroutes, label(labels.table), value);
        break;
      case UPSTREAM:
        for (const { labels, value } of family.values) add(inner(sample.upstream, label(labels.meta)), label(labels.result), value);
        break;
      case LATENCY:
        readLatency(family, sample);
        break;
      default:
    }
  }
  return sample;
}

function readLatency(family: MetricFamily, sample: MetricsSample): void {
  const bucketName = `${LATENCY}_bucket`;
  const countName = `${LATENCY}_count`;
  const finite = new Set<number>();
  for (const { metricName, labels } of family.values) {
    if (metricName !== bucketName) continue;
    const le = Number(labels.le);
    if (Number.isFinite(le)) finite.add(le);
  }
  sample.bounds = [...finite].sort((a, b) => a - b);
  const index = new Map(sample.bounds.map((bound, i) => [bound, i]));
  const width = sample.bounds.length + 1;
  for (const { metricName, labels, value } of family.values) {
    const table = label(labels.table);
    if (metricName === countName) {
      add(inner(sample.answers, table), label(labels.code), value);
    } else if (metricName === bucketName) {
      let counts = sample.buckets.get(table);
      if (counts === undefined) sample.buckets.set(table, (counts = new Float64Array(width)));
      const le = Number(labels.le);
      const at = Number.isFinite(le) ? index.get(le)! : width - 1;
      counts[at] = counts[at]! + value;
    }
  }
}

/**
 * Adds `sample` to the kept samples: the newest always, and older ones at
 * least `spacingMs` apart, none older than the window. The first kept sample
 * is then between `windowMs - spacingMs` and `windowMs` older than the
 * newest: a minute at a 2 s period keeps 7 samples instead of 30, since the
 * page needs only the newest and one about a window ago.
 */
export function keepSample(kept: readonly MetricsSample[], sample: MetricsSample, windowMs: number, spacingMs: number): MetricsSample[] {
  const next = [...kept];
  const last = next.length - 1;
  // The newest kept sample gives way when it is too close to the one before it.
  if (last >= 1 && next[last]!.at - next[last - 1]!.at < spacingMs) next[last] = sample;
  else next.push(sample);
  const start = sample.at - windowMs;
  while (next.length > 2 && next[0]!.at < start) next.shift();
  return next;
}

/** The traffic between `older` and `newer` (per table, per meta and in total). */
export function windowStats(older: MetricsSample, newer: MetricsSample): WindowStats {
  const seconds = (newer.at - older.at) / 1000;
  const perSecond = (count: number) => (seconds > 0 ? count / seconds : 0);
  const tables = new Map<string, TableStats>();
  const statsOf = (table: string): TableStats => {
    let stats = tables.get(table);
    if (stats === undefined) tables.set(table, (stats = { rate: 0, errors: {}, p99Ms: null, p99Above: false }));
    return stats;
  };
  let queries = 0;
  let errorCount = 0;
  for (const [table, count] of newer.queries) {
    const delta = count - (older.queries.get(table) ?? 0);
    queries += delta;
    statsOf(table).rate = perSecond(delta);
  }
  for (const [table, codes] of newer.answers) {
    const stats = statsOf(table);
    const before = older.answers.get(table);
    for (const [code, count] of codes) {
      if (code === OK) continue;
      const delta = count - (before?.get(code) ?? 0);
      if (delta <= 0) continue;
      stats.errors[code] = delta;
      errorCount += delta;
    }
  }
  for (const [table, counts] of newer.buckets) {
    const before = older.buckets.get(table);
    const deltas = before === undefined || before.length !== counts.length ? counts : counts.map((count, i) => count - before[i]!);
    const p99 = histogramQuantile(0.99, newer.bounds, deltas);
    if (p99 === null) continue;
    const stats = statsOf(table);
    stats.p99Ms = p99.seconds * 1000;
    stats.p99Above = p99.above;
  }
  const upstream = new Map<string, Record<string, number>>();
  for (const [meta, results] of newer.upstream) {
    const before = older.upstream.get(meta);
    const outcomes: Record<string, number> = {};
    for (const [result, count] of results) {
      const delta = count - (before?.get(result) ?? 0);
      if (delta > 0) outcomes[result] = delta;
    }
    if (Object.keys(outcomes).length > 0) upstream.set(meta, outcomes);
  }
  return { seconds, at: newer.at, tables, upstream, queryRate: perSecond(queries), errorRate: perSecond(errorCount) };
}

/**
 * The q-quantile of a histogram given as cumulative bucket counts (the last
 * is +Inf), interpolated linearly inside its bucket as Prometheus's
 * `histogram_quantile` does. Beyond the largest finite bound it answers that
 * bound, flagged `above`. Null when the histogram is empty.
 */
export function histogramQuantile(q: number, bounds: readonly number[], cumulative: ArrayLike<number>): { seconds: number; above: boolean } | null {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (total <= 0 || bounds.length === 0) return null;
  const rank = q * total;
  let i = 0;
  while (i < bounds.length && cumulative[i]! < rank) i += 1;
  if (i === bounds.length) return { seconds: bounds[bounds.length - 1]!, above: true };
  const lower = i === 0 ? 0 : bounds[i - 1]!;
  const below = i === 0 ? 0 : cumulative[i - 1]!;
  const inBucket = cumulative[i]! - below;
  const fraction = inBucket > 0 ? (rank - below) / inBucket : 1;
  return { seconds: lower + (bounds[i]! - lower) * fraction, above: false };
}

/** How much each table's reroute count grew between two samples (tables that did not grow left out). */
export function rerouteGrowth(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): Map<string, number> {
  const grown = new Map<string, number>();
  for (const [table, count] of after) {
    const delta = count - (before.get(table) ?? 0);
    if (delta > 0) grown.set(table, delta);
  }
  return grown;
}

function label(value: string | number | undefined): string {
  return value === undefined ? '' : String(value);
}

function add(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value);
}

function inner(map: Map<string, Map<string, number>>, key: string): Map<string, number> {
  let found = map.get(key);
  if (found === undefined) map.set(key, (found = new Map()));
  return found;
}

/** One table's traffic over one history step. */
export interface TablePoint {
  queryRate: number;
  errorRate: number;
  p99Ms: number | null;
}

/** The proxy's traffic over one history step (the charts' points), and that of its busiest tables. */
export interface HistoryPoint extends TablePoint {
  /** The newer sample's time (epoch ms). */
  at: number;
  /** Tables with queries or errors in the step; the rest had none. */
  tables: Map<string, TablePoint>;
}

/**
 * The traffic between two samples as one point of the history: rates per
 * second, and the p99 of every answer in between (all tables' buckets
 * summed). Only tables with traffic get a point, at most `tablesKept` of
 * them (the busiest), so an idle or huge route cache costs nothing more.
 */
export function historyPoint(older: MetricsSample, newer: MetricsSample, tablesKept: number): HistoryPoint {
  const stats = windowStats(older, newer);
  const seconds = stats.seconds;
  let total: Float64Array | undefined;
  for (const [table, counts] of newer.buckets) {
    const before = older.buckets.get(table);
    if (total === undefined || total.length !== counts.length) total = new Float64Array(counts.length);
    for (let i = 0; i < counts.length; i += 1) total[i] = total[i]! + counts[i]! - (before !== undefined && before.length === counts.length ? before[i]! : 0);
  }
  const p99 = total === undefined ? null : histogramQuantile(0.99, newer.bounds, total);
  let active: Array<[string, TablePoint]> = [];
  for (const [table, traffic] of stats.tables) {
    let errors = 0;
    for (const count of Object.values(traffic.errors)) errors += count;
    if (traffic.rate <= 0 && errors === 0) continue;
    active.push([table, { queryRate: traffic.rate, errorRate: seconds > 0 ? errors / seconds : 0, p99Ms: traffic.p99Ms }]);
  }
  if (active.length > tablesKept) active = active.sort((a, b) => b[1].queryRate - a[1].queryRate).slice(0, tablesKept);
  return {
    at: newer.at,
    queryRate: stats.queryRate,
    errorRate: stats.errorRate,
    p99Ms: p99 === null ? null : p99.seconds * 1000,
    tables: new Map(active),
  };
}
