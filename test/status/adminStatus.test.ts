import { routeRows } from '../../src/streams/routeRows.js';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BehaviorSubject, NEVER, asyncScheduler, defer } from 'rxjs';
import type { Config } from '../../src/config/types.js';
import { startAdminServer, type AdminServer } from '../../src/io/admin.js';
import { createMetrics } from '../../src/io/metrics/createMetrics.js';
import { parseStatusQuery } from '../../src/io/status/statusPage.js';
import { createLeaderBook } from '../../src/model/leaderBook.js';
import { createStatusBoard } from '../../src/streams/statusBoard.js';
import type { RouteInfo, RouteRegistry } from '../../src/model/route.js';
import type { StatusDocument } from '../../src/model/statusTypes.js';
import { captureLogger } from '../metrics/logCapture.js';
import { parsePromText, value } from '../metrics/promText.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const metricConfig = (type: Config['metric']['type']): Config['metric'] => ({
  type,
  tags: { service: 'meta_proxy' },
  falcon: { agentUrl: 'http://127.0.0.1:1/v1/push', stepSeconds: 3600, endpoint: 'h' },
  custom: [],
});

const infos: RouteInfo[] = [
  { table: 'temp', state: { kind: 'route', table: 'temp', cluster: 'c1', metas: ['10.0.0.1:34601', '10.0.0.2:34601'], version: 3 }, stale: false, changedAt: 0 },
];

const disposers: Array<() => unknown> = [];
afterEach(async () => {
  for (const dispose of disposers.splice(0).reverse()) await dispose();
});

async function start(type: Config['metric']['type'], withStatus = true) {
  const { logger } = captureLogger();
  const metrics = createMetrics({ config: metricConfig(type), logger, processMetrics: false });
  const ready = new BehaviorSubject(true);
  const zkState = new BehaviorSubject('connected');
  const registry: RouteRegistry = { route: () => NEVER, tables: () => infos, evicted$: NEVER, ready$: ready.asObservable(), dispose() {} };
  const leaders = createLeaderBook();
  leaders.set({ name: 'c1', metas: ['10.0.0.1:34601', '10.0.0.2:34601'] }, '10.0.0.2:34601');
  const board = createStatusBoard({
    routes: () => registry.tables(),
    leader: (cluster) => leaders.get(cluster),
    ...(type !== 'none' && { readMetrics: () => defer(() => metrics.snapshot()) }),
    scheduler: asyncScheduler,
    logger,
    periodMs: 50,
  });
  disposers.push(() => board.dispose());
  const server: AdminServer = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    metrics,
    registry,
    tableRows: () => routeRows(registry.tables(), (cluster) => leaders.get(cluster)),
    isListening: () => true,
    ...(withStatus && { status: { board, zkState$: zkState, connections: () => 7 } }),
    logger,
  });
  disposers.push(() => server.close());
  const url = (path: string) => `http://127.0.0.1:${server.address.port}${path}`;
  const status = async (path = '/status.json') => (await (await fetch(url(path))).json()) as StatusDocument;
  return { url, status, ready, zkState, metrics };
}

async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > until) throw new Error(`condition not met in time; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('status page on the admin server', () => {
  it('serves a page that loads only its own script and style, under a policy that forbids anything else', async () => {
    const { url } = await start('prometheus');
    const page = await fetch(url('/'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const policy = page.headers.get('content-security-policy')!;
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="status.js"></script>');
    expect(html).toContain('<link rel="stylesheet" href="status.css">');
    // Every src/href is relative to the admin listener: no CDN, no other host.
    const references = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((match) => match[1]!);
    expect(references.length).toBeGreaterThan(3);
    for (const reference of references) expect(reference).toMatch(/^(?:[a-z.]+|data:,)$/);
    const script = await fetch(url('/status.js'));
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const code = await script.text();
    expect(code).toContain("fetch(`status.json?");
    expect(code).not.toContain('sourceMappingURL');
    const css = await fetch(url('/status.css'));
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).toContain('.grid');
  });

  it('answers /status.json with the header facts and the board, and follows the ZooKeeper state and readiness', async () => {
    const { status, ready, zkState } = await start('prometheus');
    const doc = await status();
    expect(doc).toMatchObject({
      version: VERSION,
      instance: { pid: process.pid },
      ready: { ready: true, reasons: [] },
      zookeeper: { state: 'connected' },
      connections: 7,
      routes: { total: 1, stale: 0 },
    });
    expect(doc.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(doc.tables.rows[0]).toMatchObject({ table: 'temp', cluster: 'c1', leader: '10.0.0.2:34601', version: 3 });
    expect(doc.clusters[0]!.metas.map((meta) => meta.leader)).toEqual([false, true]);

    zkState.next('disconnected');
    ready.next(false);
    const down = await status();
    expect(down.zookeeper).toEqual({ state: 'disconnected' });
    expect(down.ready).toEqual({
      ready: false,
      reasons: ['the route registry is not ready (ZooKeeper not connected or routes file not loaded)'],
    });
  });

  it('turns rates on after the second sample of the metrics', async () => {
    const { status, metrics } = await start('prometheus');
    metrics.proxyHooks.queryReceived!('temp');
    metrics.proxyHooks.queryFinished!({ table: 'temp', cluster: 'c1', code: 'ERR_OK', latencyMs: 1, peer: 'p' });
    expect((await status()).rates.available).toBe(false);
    const doc = await eventually(status, (d) => d.rates.available);
    expect(doc.rates.windowSeconds).toBeGreaterThan(0);
    expect(doc.tables.rows[0]!.rate).toBe(0);
    expect(doc.tables.rows[0]!.errors).toEqual({});
  });

  it('says why rates are unavailable with metric.type none', async () => {
    const { status } = await start('none');
    await new Promise((resolve) => setTimeout(resolve, 150));
    const doc = await status();
    expect(doc.rates.available).toBe(false);
    expect(doc.rates.reason).toContain('metric.type: none');
    expect(doc.tables.rows[0]).toMatchObject({ table: 'temp', rate: null });
  });

  it('clamps the query parameters instead of failing', async () => {
    expect(parseStatusQuery(new URLSearchParams('size=5000&page=-3&sort=bogus&filter=x'))).toEqual({
      filter: 'x',
      page: 1,
      pageSize: 1000,
      sort: 'table',
    });
    expect(parseStatusQuery(new URLSearchParams('size=3&page=2&sort=rate'))).toEqual({ filter: '', page: 2, pageSize: 10, sort: 'rate' });
    expect(parseStatusQuery(new URLSearchParams(''))).toEqual({ filter: '', page: 1, pageSize: 100, sort: 'table' });
    const { status } = await start('prometheus');
    expect((await status('/status.json?size=1&page=99')).tables).toMatchObject({ pageSize: 10, page: 1, pages: 1 });
  });

  it('exports proxy_ready, read at each scrape', async () => {
    const { url, ready } = await start('prometheus');
    const scrape = async () => value(parsePromText(await (await fetch(url('/metrics'))).text()), 'proxy_ready');
    expect(await scrape()).toBe(1);
    ready.next(false);
    expect(await scrape()).toBe(0);
    ready.next(true);
    expect(await scrape()).toBe(1);
  });

  it('answers 404 on / when the admin server has no status page', async () => {
    const { url } = await start('prometheus', false);
    const response = await fetch(url('/'));
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('not found; try /clients, /healthz, /metrics, /readyz, /tables\n');
    expect((await fetch(url('/status.json'))).status).toBe(404);
  });
});
