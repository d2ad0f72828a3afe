import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/types.js';
import { ConfigError } from '../../src/errors.js';
import { createMetrics } from '../../src/io/metrics/createMetrics.js';
import { loadCustomMetrics } from '../../src/io/metrics/custom.js';
import type { QueryFinished } from '../../src/model/proxyTypes.js';
import { captureLogger } from './logCapture.js';
import { find, parsePromText, value } from './promText.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/metrics/slow-queries.mjs', import.meta.url));

const metricConfig = (type: Config['metric']['type']): Config['metric'] => ({
  type,
  tags: { service: 'meta_proxy' },
  falcon: { agentUrl: 'http://127.0.0.1:1/v1/push', stepSeconds: 60, endpoint: 'h' },
  custom: [],
});

/** Writes a module into a fresh folder outside the project: it has no node_modules to import rxjs from. */
function moduleFile(source: string, name = 'metric.mjs'): string {
  const path = join(mkdtempSync(join(tmpdir(), 'meta-proxy-custom-')), name);
  writeFileSync(path, source);
  return path;
}

const query = (table: string, latencyMs: number, routed = true): QueryFinished => ({
  table,
  ...(routed ? { cluster: 'c1' } : {}),
  code: routed ? 'ERR_OK' : 'ERR_OBJECT_NOT_FOUND',
  latencyMs,
  peer: '127.0.0.1:5000',
});

describe('custom metric modules', () => {
  it('the shipped example counts queries slower than 100 ms per table and keeps the last latency', async () => {
    const metrics = createMetrics({ config: metricConfig('prometheus'), logger: captureLogger().logger, processMetrics: false });
    const custom = await loadCustomMetrics([EXAMPLE], metrics.customRegistry, captureLogger().logger);
    const feed = custom.hooks.queryFinished!;
    for (const event of [query('a', 50), query('a', 150), query('a', 300), query('b', 101), query('b', 100), query('x', 500, false), query('b', 42)]) {
      feed(event);
    }
    const samples = parsePromText(await metrics.prometheusText());
    expect(value(samples, 'slow_query_count', { table: 'a' })).toBe(2);
    expect(value(samples, 'slow_query_count', { table: 'b' })).toBe(1);
    expect(find(samples, 'slow_query_count')).toHaveLength(2);
    expect(value(samples, 'last_query_latency_ms', { service: 'meta_proxy' })).toBe(42);
    expect(custom.active()).toEqual([EXAMPLE]);
    custom.close();
  });

  it('detaches a module whose operator fails at run time, logs its path, and keeps the others counting', async () => {
    const metrics = createMetrics({ config: metricConfig('prometheus'), logger: captureLogger().logger, processMetrics: false });
    const failing = moduleFile(`
      export default (registry, rx) => {
        const seen = registry.counter('failing_seen_count', 'seen before failing');
        return (source) => source.pipe(rx.tap((q) => {
          if (q.latencyMs > 10) throw new Error('cannot handle slow queries');
          seen.inc();
        }));
      };`);
    const counting = moduleFile(`
      export function createMetricOperator(registry, rx) {
        const all = registry.meter('all_query_count', 'every finished query', ['code']);
        return (source) => source.pipe(rx.tap((q) => all.inc({ code: q.code })));
      }`);
    const { logger, lines } = captureLogger();
    const custom = await loadCustomMetrics([failing, counting], metrics.customRegistry, logger);
    const feed = custom.hooks.queryFinished!;
    feed(query('a', 1));
    feed(query('a', 20));
    feed(query('a', 2));
    feed(query('a', 3));

    const samples = parsePromText(await metrics.prometheusText());
    expect(value(samples, 'failing_seen_count')).toBe(1);
    expect(value(samples, 'all_query_count', { code: 'ERR_OK' })).toBe(4);
    expect(custom.active()).toEqual([counting]);
    const logged = lines.filter((line) => line.module === failing);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 50, err: { message: 'cannot handle slow queries' } });
    custom.close();
  });

  it('detaches a module whose operator throws when applied, and loads the rest', async () => {
    const broken = moduleFile(`export default () => () => { throw new Error('no pipe for you'); };`);
    const notObservable = moduleFile(`export default () => () => 42;`);
    const fine = moduleFile(`export default (registry, rx) => (source) => source.pipe(rx.tap(() => registry.counter('fine_count', 'h').inc()));`);
    const { logger, lines } = captureLogger();
    const metrics = createMetrics({ config: metricConfig('prometheus'), logger, processMetrics: false });
    const custom = await loadCustomMetrics([broken, notObservable, fine], metrics.customRegistry, logger);
    expect(custom.active()).toEqual([fine]);
    expect(lines.find((line) => line.module === broken)).toMatchObject({ err: { message: 'no pipe for you' } });
    expect(JSON.stringify(lines.find((line) => line.module === notObservable))).toContain('expected an Observable');
    custom.hooks.queryFinished!(query('a', 1));
    expect(value(parsePromText(await metrics.prometheusText()), 'fine_count')).toBe(1);
  });

  it('refuses to start on a module that cannot be loaded, naming its path', async () => {
    const metrics = createMetrics({ config: metricConfig('none'), logger: captureLogger().logger });
    const load = (path: string) => loadCustomMetrics([path], metrics.customRegistry, captureLogger().logger);

    const missing = join(tmpdir(), 'meta-proxy-no-such-dir', 'missing-metric.mjs');
    await expect(load(missing)).rejects.toBeInstanceOf(ConfigError);
    await expect(load(missing)).rejects.toThrow(`Custom metric module ${missing} (metric.custom) could not be loaded`);

    const throwsAtImport = moduleFile(`throw new Error('import-time failure');`);
    await expect(load(throwsAtImport)).rejects.toThrow(`${throwsAtImport} (metric.custom) could not be loaded: import-time failure`);

    const factoryThrows = moduleFile(`export default () => { throw new Error('factory failure'); };`);
    await expect(load(factoryThrows)).rejects.toThrow(`${factoryThrows} (metric.custom) threw while creating its operator: factory failure`);

    const notAFunction = moduleFile(`export default 42;`);
    await expect(load(notAFunction)).rejects.toThrow(`${notAFunction} (metric.custom) exports no factory`);

    const returnsNothing = moduleFile(`export default () => undefined;`);
    await expect(load(returnsNothing)).rejects.toThrow(`${returnsNothing} (metric.custom): its factory returned undefined`);
  });

  it('fails loading when a module reuses a built-in metric name', async () => {
    const metrics = createMetrics({ config: metricConfig('prometheus'), logger: captureLogger().logger, processMetrics: false });
    const clash = moduleFile(`export default (registry) => { registry.gauge('client_connection_count', 'mine'); return (s) => s; };`);
    await expect(loadCustomMetrics([clash], metrics.customRegistry, captureLogger().logger)).rejects.toThrow(
      `${clash} (metric.custom) threw while creating its operator`,
    );
  });

  it('runs modules with metric.type none without recording anything', async () => {
    const metrics = createMetrics({ config: metricConfig('none'), logger: captureLogger().logger });
    const custom = await loadCustomMetrics([EXAMPLE], metrics.customRegistry, captureLogger().logger);
    custom.hooks.queryFinished!(query('a', 500));
    expect(custom.active()).toEqual([EXAMPLE]);
    expect(await metrics.prometheusText()).toBe('');
  });

  it('adds no hook when no module is configured', async () => {
    const metrics = createMetrics({ config: metricConfig('prometheus'), logger: captureLogger().logger, processMetrics: false });
    const custom = await loadCustomMetrics([], metrics.customRegistry, captureLogger().logger);
    expect(custom.hooks).toEqual({});
  });

  it('caps the label sets a module can create', async () => {
    const metrics = createMetrics({ config: metricConfig('prometheus'), logger: captureLogger().logger, processMetrics: false });
    const custom = await loadCustomMetrics([EXAMPLE], metrics.customRegistry, captureLogger().logger);
    for (let i = 0; i < 10_050; i += 1) custom.hooks.queryFinished!(query(`t${i}`, 500));
    const series = find(parsePromText(await metrics.prometheusText()), 'slow_query_count');
    expect(series).toHaveLength(10_001);
    expect(value(series, 'slow_query_count', { table: 'other' })).toBe(50);
  });
});
