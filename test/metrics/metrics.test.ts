import { describe, expect, it } from 'vitest';
import { register as globalRegistry } from 'prom-client';
import type { Config } from '../../src/config/types.js';
import { createMetrics } from '../../src/io/metrics/createMetrics.js';
import { captureLogger } from './logCapture.js';
import { find, parsePromText, value } from './promText.js';

const TAGS = { region: 'local_tst', service: 'meta_proxy' };

function metricConfig(type: Config['metric']['type']): Config['metric'] {
  return {
    type,
    tags: { ...TAGS },
    falcon: { agentUrl: 'http://127.0.0.1:1/v1/push', stepSeconds: 3600, endpoint: 'test-host' },
    custom: [],
  };
}

describe('createMetrics (prometheus)', () => {
  it('counts a scripted sequence exactly, under the original names, with the configured tags', async () => {
    const metrics = createMetrics({ config: metricConfig('prometheus'), logger: captureLogger().logger });
    const { proxyHooks: proxy, registryHooks: registry } = metrics;

    proxy.connectionOpened!('10.0.0.1:5000');
    proxy.connectionOpened!('10.0.0.2:5000');
    proxy.connectionOpened!('10.0.0.3:5000');
    proxy.connectionClosed!('10.0.0.2:5000');

    // The first query of `temp` arrives before its route is known: its count
    // waits for the answer, then goes to `temp` since the table had a route.
    proxy.queryReceived!('temp');
    registry.zkRead!('temp');
    proxy.queryFinished!({ table: 'temp', cluster: 'c1', code: 'ERR_OK', latencyMs: 3, peer: 'p' });
    for (let i = 0; i < 4; i += 1) {
      proxy.queryReceived!('temp');
      proxy.queryFinished!({ table: 'temp', cluster: 'c1', code: 'ERR_OK', latencyMs: 2 + i, peer: 'p' });
    }
    registry.zkRead!('temp');
    // A table with no route never gets its own label value.
    proxy.queryReceived!('nope');
    registry.zkRead!('nope');
    proxy.queryFinished!({ table: 'nope', code: 'ERR_OBJECT_NOT_FOUND', latencyMs: 1, peer: 'p' });
    proxy.rerouted!('temp', 'c1', 'c2');
    proxy.frameRejected!('10.0.0.9:1', 'too-large');
    registry.cacheSize!(2);
    metrics.upstreamCall('10.0.0.1:34601', 'ok');
    metrics.upstreamCall('10.0.0.1:34601', 'ok');
    metrics.upstreamCall('10.0.0.2:34601', 'timeout');
    metrics.zkState('connecting');
    metrics.zkState('connected');

    const text = await metrics.prometheusText();
    const samples = parsePromText(text);

    expect(text).toContain('client_connection_count{region="local_tst",service="meta_proxy"} 2');
    expect(value(samples, 'client_query_config_count', { table: 'temp' })).toBe(5);
    expect(value(samples, 'client_query_config_count', { table: 'other' })).toBe(1);
    expect(find(samples, 'client_query_config_count')).toHaveLength(2);
    expect(value(samples, 'zk_request_count', { table: 'temp' })).toBe(2);
    expect(value(samples, 'zk_request_count', { table: 'other' })).toBe(1);
    expect(find(samples, 'zk_request_count', { table: 'nope' })).toHaveLength(0);

    expect(value(samples, 'query_config_latency_seconds_count', { table: 'temp', cluster: 'c1', code: 'ERR_OK' })).toBe(5);
    expect(
      value(samples, 'query_config_latency_seconds_count', { table: 'other', cluster: 'none', code: 'ERR_OBJECT_NOT_FOUND' }),
    ).toBe(1);
    const finished = find(samples, 'query_config_latency_seconds_count').reduce((sum, s) => sum + s.value, 0);
    expect(finished).toBe(6);
    expect(value(samples, 'query_config_latency_seconds_sum', { table: 'temp' })).toBeCloseTo(0.017, 6);
    expect(value(samples, 'query_config_latency_seconds_bucket', { table: 'temp', le: '0.0025' })).toBe(1);
    expect(value(samples, 'query_config_latency_seconds_bucket', { table: 'temp', le: '0.005' })).toBe(5);

    expect(value(samples, 'reroute_count', { table: 'temp' })).toBe(1);
    expect(value(samples, 'rejected_frame_count', { reason: 'too-large' })).toBe(1);
    expect(value(samples, 'route_cache_size')).toBe(2);
    expect(value(samples, 'upstream_call_count', { meta: '10.0.0.1:34601', result: 'ok' })).toBe(2);
    expect(value(samples, 'upstream_call_count', { meta: '10.0.0.2:34601', result: 'timeout' })).toBe(1);
    expect(value(samples, 'zookeeper_session_state', { state: 'connected' })).toBe(1);
    expect(value(samples, 'zookeeper_session_state', { state: 'connecting' })).toBe(0);
    expect(find(samples, 'process_cpu_user_seconds_total')).toHaveLength(1);

    // Every sample carries the configured tags.
    for (const sample of samples) expect(sample.labels).toMatchObject(TAGS);
    // Nothing leaked into prom-client's process-wide registry.
    expect(globalRegistry.getMetricsAsArray()).toHaveLength(0);
    metrics.close();
  });

  it('keeps the number of table label values bounded under a flood of random table names', async () => {
    const metrics = createMetrics({
      config: metricConfig('prometheus'),
      logger: captureLogger().logger,
      tableLabelLimit: 100,
      processMetrics: false,
    });
    const proxy = metrics.proxyHooks;
    const random = () => `t-${Math.random().toString(36).slice(2)}`;
    for (let i = 0; i < 50_000; i += 1) {
      const table = random();
      proxy.queryReceived!(table);
      metrics.registryHooks.zkRead!(table);
      proxy.rerouted!(table, 'a', 'b');
      // Half of them even get a route: the cap still holds.
      proxy.queryFinished!({ table, cluster: i % 2 === 0 ? 'c1' : undefined, code: 'ERR_OK', latencyMs: 1, peer: 'p' });
    }
    const samples = parsePromText(await metrics.prometheusText());

    // Only the 100 routed tables admitted before the cap get their own series.
    const sum = (name: string) => find(samples, name).reduce((total, s) => total + s.value, 0);
    expect(find(samples, 'client_query_config_count')).toHaveLength(101);
    expect(sum('client_query_config_count')).toBe(50_000);
    expect(find(samples, 'zk_request_count')).toHaveLength(101);
    expect(sum('zk_request_count')).toBe(50_000);
    // Reroutes wait for the table's first answer like the other counts: the admitted tables have their own.
    expect(find(samples, 'reroute_count')).toHaveLength(101);
    expect(sum('reroute_count')).toBe(50_000);
    const latencyTables = new Set(find(samples, 'query_config_latency_seconds_count').map((s) => s.labels.table));
    expect(latencyTables.size).toBe(101);
    expect(latencyTables.has('other')).toBe(true);
    const total = find(samples, 'query_config_latency_seconds_count').reduce((sum, s) => sum + s.value, 0);
    expect(total).toBe(50_000);

    // A table admitted before the cap keeps its own name afterwards.
    const admitted = [...latencyTables].find((table) => table !== 'other')!;
    proxy.queryReceived!(admitted);
    expect(value(parsePromText(await metrics.prometheusText()), 'client_query_config_count', { table: admitted })).toBe(2);
  });

  it('counts the reroute of a table\'s very first request under the table once its route is known', async () => {
    const metrics = createMetrics({ config: metricConfig('prometheus'), logger: captureLogger().logger, processMetrics: false });
    const proxy = metrics.proxyHooks;
    proxy.queryReceived!('fresh');
    metrics.registryHooks.zkRead!('fresh');
    proxy.rerouted!('fresh', 'c1', 'c2');
    proxy.queryFinished!({ table: 'fresh', cluster: 'c2', code: 'ERR_OK', latencyMs: 5, peer: 'p' });
    // A made-up table's reroute (it never had a route) still goes to `other`.
    proxy.queryReceived!('made_up');
    proxy.rerouted!('made_up', 'c1', 'c2');
    proxy.queryFinished!({ table: 'made_up', code: 'ERR_OBJECT_NOT_FOUND', latencyMs: 5, peer: 'p' });
    const samples = parsePromText(await metrics.prometheusText());
    expect(value(samples, 'reroute_count', { table: 'fresh' })).toBe(1);
    expect(value(samples, 'client_query_config_count', { table: 'fresh' })).toBe(1);
    expect(value(samples, 'zk_request_count', { table: 'fresh' })).toBe(1);
    expect(value(samples, 'reroute_count', { table: 'other' })).toBe(1);
    expect(find(samples, 'reroute_count')).toHaveLength(2);
  });

  it('bounds label values that come from outside the client (cluster, code, meta, reason)', async () => {
    const metrics = createMetrics({ config: metricConfig('prometheus'), logger: captureLogger().logger, labelLimit: 3, processMetrics: false });
    for (let i = 0; i < 20; i += 1) {
      metrics.upstreamCall(`10.0.0.${i}:34601`, 'ok');
      metrics.proxyHooks.frameRejected!('p', `reason-${i}`);
    }
    const samples = parsePromText(await metrics.prometheusText());
    expect(find(samples, 'upstream_call_count')).toHaveLength(4);
    expect(value(samples, 'upstream_call_count', { meta: 'other' })).toBe(17);
    expect(find(samples, 'rejected_frame_count')).toHaveLength(4);
  });

  it('counts stale routes from the registry when read', async () => {
    const metrics = createMetrics({ config: metricConfig('prometheus'), logger: captureLogger().logger, processMetrics: false });
    let stale = [true, false, true];
    metrics.observeRegistry({
      tables: () =>
        stale.map((isStale, i) => ({ table: `t${i}`, state: { kind: 'missing', table: `t${i}` }, stale: isStale, changedAt: 0 })),
    });
    expect(value(parsePromText(await metrics.prometheusText()), 'route_stale_count')).toBe(2);
    stale = [false];
    expect(value(parsePromText(await metrics.prometheusText()), 'route_stale_count')).toBe(0);
  });
});

describe('createMetrics (none)', () => {
  it('registers nothing and has no hooks to call', async () => {
    const metrics = createMetrics({ config: metricConfig('none'), logger: captureLogger().logger });
    expect(Object.keys(metrics.proxyHooks)).toEqual([]);
    expect(Object.keys(metrics.registryHooks)).toEqual([]);
    metrics.upstreamCall('m', 'ok');
    metrics.zkState('connected');
    metrics.customRegistry.counter('x_total', 'x', ['a']).inc({ a: 'b' });
    expect(await metrics.prometheusText()).toBe('');
    expect(metrics.falcon).toBeUndefined();
    expect(globalRegistry.getMetricsAsArray()).toHaveLength(0);
    metrics.close();
  });
});
