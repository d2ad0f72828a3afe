/**
 * The pool forgets connections to metas nothing names any more: a cluster that
 * was replaced or switched away from must not keep its sockets for ever.
 */
import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createUpstreamPool, type UpstreamPool, type UpstreamPoolOptions } from '../../src/io/upstream.js';
import type { MetaRequest } from '../../src/model/upstream.js';
import { namedMetas } from '../../src/streams/namedMetas.js';
import { startSimCluster, type SimCluster } from '../../sim/cluster.js';
import { queryConfigArgs } from '../../sim/wire.js';

const QUERY = 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX';
const TABLES = { temp: { appId: 2, partitionCount: 8 } };
const open: { clusters: SimCluster[]; pools: UpstreamPool[] } = { clusters: [], pools: [] };

afterEach(async () => {
  for (const p of open.pools.splice(0)) p.close();
  await Promise.all(open.clusters.splice(0).map((c) => c.close()));
});

async function sim(name: string): Promise<SimCluster> {
  const c = await startSimCluster({ name, metas: 2, tables: TABLES });
  open.clusters.push(c);
  return c;
}

function pool(o: Partial<UpstreamPoolOptions> = {}): UpstreamPool {
  const p = createUpstreamPool({ connectTimeoutMs: 500, maxPendingCalls: 1000, ...o });
  open.pools.push(p);
  return p;
}

const query = (timeoutMs = 1000): MetaRequest => ({ name: QUERY, args: queryConfigArgs('temp', [0]), timeoutMs });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

describe('upstream pool: unused connections', () => {
  it('closes connections to metas not named once unused for idleCloseMs, keeps the named ones', async () => {
    const a = await sim('A');
    const b = await sim('B');
    const closes: Array<[string, string]> = [];
    const p = pool({ idleCloseMs: 150, onClose: (meta, reason) => closes.push([meta, reason]) });
    await firstValueFrom(p.call(a.metas[0]!, query()));
    await firstValueFrom(p.call(b.metas[0]!, query()));
    expect(p.openConnections()).toBe(2);

    // Just used: kept, even though nothing names it.
    expect(p.retain(new Set([b.metas[0]!]))).toEqual([]);
    await sleep(200);
    expect(p.retain(new Set([b.metas[0]!]))).toEqual([a.metas[0]]);
    expect(closes).toEqual([[a.metas[0], 'unused']]);
    expect(p.openConnections()).toBe(1);
    expect(p.stats().map((s) => s.meta)).toEqual([b.metas[0]]);
    await eventually(() => a.openConnectionCount(0) === 0, 'the meta sees the close');
    // Named: kept however long it is unused.
    expect(b.openConnectionCount(0)).toBe(1);
    expect(p.retain(new Set([b.metas[0]!]))).toEqual([]);

    // The table comes back: a new call connects again and is answered.
    const again = await firstValueFrom(p.call(a.metas[0]!, query()));
    expect(again.reply.bodyError).toBe('ERR_OK');
    expect(a.connectionCount(0)).toBe(2);
    expect(p.openConnections()).toBe(2);
  });

  it('never closes a connection with a call pending (a silent meta), only once the call is gone and the idle time passed', async () => {
    const a = await sim('A');
    a.setBehavior(0, { mode: 'silent' });
    const p = pool({ idleCloseMs: 100 });
    let failed: unknown;
    const call = p.call(a.metas[0]!, query(60_000)).subscribe({ error: (e: unknown) => (failed = e) });
    await eventually(() => a.requestCount(0) === 1, 'the request reaches the meta');
    await sleep(150);
    expect(p.retain(new Set())).toEqual([]);
    expect(p.openConnections()).toBe(1);
    expect(failed).toBeUndefined();
    call.unsubscribe();
    expect(p.retain(new Set())).toEqual([]);
    await sleep(150);
    expect(p.retain(new Set())).toEqual([a.metas[0]]);
    await eventually(() => a.openConnectionCount(0) === 0, 'the meta sees the close');
  });

  it('forgets a meta that never answered a connect (a dead cluster), so the map does not grow', async () => {
    const a = await sim('A');
    await a.kill(1);
    const p = pool({ idleCloseMs: 50 });
    await expect(firstValueFrom(p.call(a.metas[1]!, query()))).rejects.toMatchObject({ kind: 'connect' });
    expect(p.stats()).toHaveLength(1);
    await sleep(80);
    expect(p.retain(new Set())).toEqual([a.metas[1]]);
    expect(p.stats()).toEqual([]);
  });

  it('with idleCloseMs 0 closes nothing', async () => {
    const a = await sim('A');
    const p = pool({ idleCloseMs: 0 });
    await firstValueFrom(p.call(a.metas[0]!, query()));
    await sleep(20);
    expect(p.retain(new Set())).toEqual([]);
    expect(p.openConnections()).toBe(1);
  });

  it('refuses a negative idle time', () => {
    expect(() => createUpstreamPool({ connectTimeoutMs: 1, maxPendingCalls: 1, idleCloseMs: -1 })).toThrow('idleCloseMs');
  });
});

describe('namedMetas', () => {
  it("names every cached route's metas and its cluster's last leader, nothing of tables without a route", () => {
    const route = (table: string, cluster: string, metas: string[]) => ({
      table,
      state: { kind: 'route' as const, table, cluster, metas, version: 1 },
      stale: false,
      changedAt: 0,
    });
    const tables = [
      route('t1', 'A', ['a1:1', 'a2:1']),
      route('t2', 'B', ['b1:1']),
      { table: 'gone', state: { kind: 'missing' as const, table: 'gone' }, stale: false, changedAt: 0 },
    ];
    // B's leader moved to a meta its route does not list (a forward named it).
    const leaders = { get: (cluster: { name: string }) => (cluster.name === 'B' ? 'b9:1' : undefined) };
    expect([...namedMetas(tables, leaders)].sort()).toEqual(['a1:1', 'a2:1', 'b1:1', 'b9:1']);
    expect(namedMetas([], leaders).size).toBe(0);
  });
});
