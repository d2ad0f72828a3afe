import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/types.js';
import { createMetrics } from '../../src/io/metrics/createMetrics.js';
import { histogramQuantile, keepSample, readSample, windowStats, type MetricsSample } from '../../src/streams/statusModel.js';
import { buildStatusView } from '../../src/streams/statusView.js';
import type { RouteInfo } from '../../src/model/route.js';
import type { StatusQuery } from '../../src/model/statusTypes.js';
import { captureLogger } from '../metrics/logCapture.js';

const metricConfig: Config['metric'] = {
  type: 'prometheus',
  tags: { region: 'local_tst', service: 'meta_proxy' },
  falcon: { agentUrl: 'http://127.0.0.1:1/v1/push', stepSeconds: 3600, endpoint: 'h' },
  custom: [],
};

const query = (overrides: Partial<StatusQuery> = {}): StatusQuery => ({ filter: '', page: 1, pageSize: 100, sort: 'table', ...overrides });

describe('status model over the real metrics registry', () => {
  it('reads queries, answers by code, latency buckets, upstream outcomes and reroutes from snapshot()', async () => {
    const metrics = createMetrics({ config: metricConfig, logger: captureLogger().logger, processMetrics: false });
    const hooks = metrics.proxyHooks;
    const finish = (table: string, code: string, latencyMs: number, cluster = 'A') => {
      hooks.queryReceived!(table);
      hooks.queryFinished!({ table, cluster, code, latencyMs, peer: 'p' });
    };
    finish('temp', 'ERR_OK', 3);
    const before = readSample(await metrics.snapshot(), 1_000);

    for (let i = 0; i < 97; i += 1) finish('temp', 'ERR_OK', 3);
    finish('temp', 'ERR_TIMEOUT', 4_000, 'B');
    finish('temp', 'ERR_TIMEOUT', 4_000, 'B');
    finish('other_table', 'ERR_OK', 20);
    metrics.upstreamCall('10.0.0.1:34601', 'ERR_OK');
    metrics.upstreamCall('10.0.0.1:34601', 'timeout');
    hooks.rerouted!('temp', 'A', 'B');
    const after = readSample(await metrics.snapshot(), 11_000);

    expect(after.bounds).toEqual([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    expect(after.queries.get('temp')).toBe(100);
    expect(after.answers.get('temp')).toEqual(new Map([['ERR_OK', 98], ['ERR_TIMEOUT', 2]]));
    // Buckets are summed over clusters and codes: the +Inf bucket counts every answer.
    expect(after.buckets.get('temp')![after.bounds.length]).toBe(100);
    expect(after.upstream.get('10.0.0.1:34601')).toEqual(new Map([['ERR_OK', 1], ['timeout', 1]]));
    expect(after.reroutes.get('temp')).toBe(1);

    const stats = windowStats(before, after);
    expect(stats.seconds).toBe(10);
    expect(stats.queryRate).toBeCloseTo(10, 10);
    expect(stats.errorRate).toBeCloseTo(0.2, 10);
    const temp = stats.tables.get('temp')!;
    expect(temp.rate).toBeCloseTo(9.9, 10);
    expect(temp.errors).toEqual({ ERR_TIMEOUT: 2 });
    // 97 answers in 3 ms and 2 in 4 s: rank 98.01 of 99 falls in (2.5 s, 5 s].
    expect(temp.p99Ms).toBeCloseTo(2_500 + 2_500 * (1.01 / 2), 6);
    expect(stats.tables.get('other_table')).toMatchObject({ errors: {}, p99Above: false });
    expect(stats.upstream.get('10.0.0.1:34601')).toEqual({ ERR_OK: 1, timeout: 1 });
    metrics.close();
  });

  it('reads nothing from disabled metrics', async () => {
    const metrics = createMetrics({ config: { ...metricConfig, type: 'none' }, logger: captureLogger().logger });
    expect(await metrics.snapshot()).toEqual([]);
  });
});

describe('histogramQuantile', () => {
  const bounds = [0.1, 1, 10];
  it('interpolates inside the bucket that holds the rank, as Prometheus does', () => {
    const median = histogramQuantile(0.5, bounds, [0, 10, 10, 10])!;
    expect(median.seconds).toBeCloseTo(0.55, 12);
    expect(median.above).toBe(false);
    expect(histogramQuantile(0.99, bounds, [100, 100, 100, 100])!.seconds).toBeCloseTo(0.099, 12);
  });
  it('answers the largest bound, flagged, beyond it; null for no observations', () => {
    expect(histogramQuantile(0.99, bounds, [0, 0, 1, 10])).toEqual({ seconds: 10, above: true });
    expect(histogramQuantile(0.99, bounds, [0, 0, 0, 0])).toBeNull();
  });
});

describe('keepSample', () => {
  const sample = (at: number): MetricsSample => ({ ...readSample([], at) });
  it('keeps samples 10 s apart plus the newest, reaching back no further than the window', () => {
    let kept: MetricsSample[] = [];
    for (let at = 0; at <= 64_000; at += 2_000) kept = keepSample(kept, sample(at), 60_000, 10_000);
    expect(kept.map((s) => s.at)).toEqual([10_000, 20_000, 30_000, 40_000, 50_000, 60_000, 64_000]);
  });
});

describe('buildStatusView', () => {
  const routes = (count: number): RouteInfo[] =>
    Array.from({ length: count }, (_, i) => {
      const table = `table_${String(i).padStart(5, '0')}`;
      const cluster = i % 2 === 0 ? 'primary' : 'backup';
      const metas = [`10.0.${i % 2}.1:34601`, `10.0.${i % 2}.2:34601`];
      return { table, state: { kind: 'route', table, cluster, metas, version: 1 }, stale: i % 1000 === 0, changedAt: i } satisfies RouteInfo;
    });

  it('pages, filters and sorts 10 000 routes, building rows only for the page asked', () => {
    const infos = routes(10_000);
    const stats = {
      seconds: 60,
      at: 0,
      tables: new Map([['table_00042', { rate: 99, errors: { ERR_TIMEOUT: 1 }, p99Ms: 3, p99Above: false }]]),
      upstream: new Map([['10.0.0.1:34601', { ERR_OK: 5 }]]),
      queryRate: 99,
      errorRate: 1 / 60,
    };
    const base = { infos, stats, metricsOn: true, leader: () => '10.0.0.2:34601', changes: [] };
    const started = performance.now();
    const first = buildStatusView({ ...base, query: query() });
    const elapsed = performance.now() - started;
    // Generous for a loaded 2-core machine; the page asks once a second.
    expect(elapsed).toBeLessThan(500);
    expect(first.routes).toEqual({ total: 10_000, stale: 10, byKind: { route: 10_000 } });
    expect(first.tables).toMatchObject({ matched: 10_000, pages: 100, page: 1 });
    expect(first.tables.rows).toHaveLength(100);
    expect(first.tables.rows[0]).toMatchObject({ table: 'table_00000', stale: true, leader: '10.0.0.2:34601', rate: 0, errors: {} });

    const last = buildStatusView({ ...base, query: query({ page: 1_000, pageSize: 25 }) });
    expect(last.tables).toMatchObject({ page: 400, pages: 400 });
    expect(last.tables.rows.map((row) => row.table)).toEqual(Array.from({ length: 25 }, (_, i) => `table_0${9975 + i}`));

    const busiest = buildStatusView({ ...base, query: query({ sort: 'rate', pageSize: 10 }) });
    expect(busiest.tables.rows[0]).toMatchObject({ table: 'table_00042', rate: 99, errors: { ERR_TIMEOUT: 1 }, p99Ms: 3 });

    const filtered = buildStatusView({ ...base, query: query({ filter: ' TABLE_0004 ' }) });
    expect(filtered.tables.matched).toBe(10);
    const byMeta = buildStatusView({ ...base, query: query({ filter: '10.0.1.2' }) });
    expect(byMeta.tables.matched).toBe(5_000);
    expect(byMeta.tables.rows.every((row) => row.cluster === 'backup')).toBe(true);

    expect(first.clusters.map((c) => [c.name, c.tables, c.stale])).toEqual([
      ['backup', 5_000, 0],
      ['primary', 5_000, 10],
    ]);
    expect(first.clusters[1]!.metas).toEqual([
      { address: '10.0.0.1:34601', leader: false, outcomes: { ERR_OK: 5 } },
      { address: '10.0.0.2:34601', leader: true, outcomes: {} },
    ]);
  });
});
