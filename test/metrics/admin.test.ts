import { routeRows } from '../../src/streams/routeRows.js';
import { afterEach, describe, expect, it } from 'vitest';
import { BehaviorSubject, NEVER } from 'rxjs';
import type { Config } from '../../src/config/types.js';
import { startAdminServer, type AdminServer, type TableRow } from '../../src/io/admin.js';
import { createMetrics } from '../../src/io/metrics/createMetrics.js';
import { createLeaderBook } from '../../src/model/leaderBook.js';
import type { RouteInfo, RouteRegistry } from '../../src/model/route.js';
import { captureLogger } from './logCapture.js';
import { parsePromText, value } from './promText.js';

const metricConfig = (type: Config['metric']['type']): Config['metric'] => ({
  type,
  tags: { service: 'meta_proxy' },
  falcon: { agentUrl: 'http://127.0.0.1:1/v1/push', stepSeconds: 60, endpoint: 'h' },
  custom: [],
});

/** A registry with a fixed set of cached routes and a readiness the test drives. */
function fakeRegistry(infos: RouteInfo[], ready: BehaviorSubject<boolean>): RouteRegistry {
  return { route: () => NEVER, tables: () => infos, evicted$: NEVER, ready$: ready.asObservable(), dispose() {} };
}

const servers: AdminServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function start(options: Partial<Parameters<typeof startAdminServer>[0]> & { registry: RouteRegistry }) {
  const server = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    isListening: () => true,
    logger: captureLogger().logger,
    // As main wires it: the rows of the registry's cached tables.
    tableRows: () => routeRows(options.registry.tables(), () => undefined),
    ...options,
  });
  servers.push(server);
  const url = (path: string) => `http://127.0.0.1:${server.address.port}${path}`;
  return { server, url };
}

describe('admin HTTP server', () => {
  it('answers /healthz, 404 for unknown paths, 405 for other methods', async () => {
    const { url } = await start({ registry: fakeRegistry([], new BehaviorSubject(true)) });
    const health = await fetch(url('/healthz'));
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok\n');
    expect((await fetch(url('/healthz?verbose=1'))).status).toBe(200);
    expect((await fetch(url('/nope'))).status).toBe(404);
    expect((await fetch(url('/config'))).status).toBe(404);
    const post = await fetch(url('/healthz'), { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('flips /readyz from 503 to 200 when the registry becomes ready, and back', async () => {
    const ready = new BehaviorSubject(false);
    let listening = true;
    const { url } = await start({ registry: fakeRegistry([], ready), isListening: () => listening });

    const notReady = await fetch(url('/readyz'));
    expect(notReady.status).toBe(503);
    expect(((await notReady.json()) as { reasons: string[] }).reasons).toEqual([
      'the route registry is not ready (ZooKeeper not connected or routes file not loaded)',
    ]);

    ready.next(true);
    const isReady = await fetch(url('/readyz'));
    expect(isReady.status).toBe(200);
    expect(await isReady.json()).toEqual({ ready: true });

    listening = false;
    const stopped = await fetch(url('/readyz'));
    expect(stopped.status).toBe(503);
    expect(((await stopped.json()) as { reasons: string[] }).reasons).toEqual(['the client listener is not accepting connections']);

    listening = true;
    ready.next(false);
    expect((await fetch(url('/readyz'))).status).toBe(503);
  });

  it('lists every cached route on /tables with its cluster, metas, leader and staleness', async () => {
    const leaders = createLeaderBook();
    leaders.set({ name: 'c1', metas: ['10.0.0.1:34601', '10.0.0.2:34601'] }, '10.0.0.2:34601');
    const infos: RouteInfo[] = [
      {
        table: 'temp',
        state: { kind: 'route', table: 'temp', cluster: 'c1', metas: ['10.0.0.1:34601', '10.0.0.2:34601'], version: 3 },
        stale: true,
        changedAt: Date.UTC(2024, 0, 2, 3, 4, 5),
      },
      { table: 'gone', state: { kind: 'missing', table: 'gone' }, stale: false, changedAt: 0 },
      { table: 'bad', state: { kind: 'invalid', table: 'bad', reason: 'no meta_addrs' }, stale: false, changedAt: 0 },
    ];
    const { url } = await start({ registry: fakeRegistry(infos, new BehaviorSubject(true)), tableRows: () => routeRows(infos, (cluster) => leaders.get(cluster)) });
    const response = await fetch(url('/tables'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    const rows = (await response.json()) as TableRow[];
    expect(rows.map((row) => row.table)).toEqual(['bad', 'gone', 'temp']);
    expect(rows[2]).toEqual({
      table: 'temp',
      kind: 'route',
      cluster: 'c1',
      metas: ['10.0.0.1:34601', '10.0.0.2:34601'],
      leader: '10.0.0.2:34601',
      version: 3,
      reason: null,
      stale: true,
      changedAt: '2024-01-02T03:04:05.000Z',
      clients: { hosts: 0, followed: null, since: null },
    });
    expect(rows[0]).toMatchObject({ kind: 'invalid', cluster: null, leader: null, reason: 'no meta_addrs' });
    expect(rows[1]).toMatchObject({ kind: 'missing', metas: [], changedAt: '1970-01-01T00:00:00.000Z' });
  });

  it('serves the Prometheus text on /metrics', async () => {
    const metrics = createMetrics({ config: metricConfig('prometheus'), logger: captureLogger().logger, processMetrics: false });
    metrics.proxyHooks.connectionOpened!('p');
    const { url } = await start({ registry: fakeRegistry([], new BehaviorSubject(true)), metrics });
    const response = await fetch(url('/metrics'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(value(parsePromText(await response.text()), 'client_connection_count', { service: 'meta_proxy' })).toBe(1);
  });

  it('answers 404 on /metrics when metrics are off', async () => {
    const metrics = createMetrics({ config: metricConfig('none'), logger: captureLogger().logger });
    const { url } = await start({ registry: fakeRegistry([], new BehaviorSubject(true)), metrics });
    expect((await fetch(url('/metrics'))).status).toBe(404);
    const { url: bare } = await start({ registry: fakeRegistry([], new BehaviorSubject(true)) });
    expect((await fetch(bare('/metrics'))).status).toBe(404);
  });

  it('answers 500 when reading the routes fails, and keeps serving', async () => {
    const { logger, lines } = captureLogger();
    const registry = fakeRegistry([], new BehaviorSubject(true));
    registry.tables = () => {
      throw new Error('boom');
    };
    const { url } = await start({ registry, logger });
    expect((await fetch(url('/tables'))).status).toBe(500);
    expect(lines.some((line) => line.msg === 'admin endpoint failed' && line.path === '/tables')).toBe(true);
    expect((await fetch(url('/healthz'))).status).toBe(200);
  });

  it('names the address when it cannot listen', async () => {
    const { server } = await start({ registry: fakeRegistry([], new BehaviorSubject(true)) });
    await expect(
      startAdminServer({
        host: '127.0.0.1',
        port: server.address.port,
        registry: fakeRegistry([], new BehaviorSubject(true)),
        isListening: () => true,
        logger: captureLogger().logger,
      }),
    ).rejects.toThrow(`cannot listen on 127.0.0.1:${server.address.port}: listen EADDRINUSE`);
  });
});
