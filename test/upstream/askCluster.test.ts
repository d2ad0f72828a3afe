import { asyncScheduler, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createUpstreamPool, type UpstreamPool } from '../../src/io/upstream.js';
import type { LeaderFollowingCallDeps } from '../../src/model/leaderFollowingCall.js';
import { askCluster } from '../../src/streams/askCluster.js';
import { createLeaderBook } from '../../src/model/leaderBook.js';
import { createSweep, type Sweep } from '../../src/model/sweep.js';
import { captureLogger } from '../metrics/logCapture.js';
import type { ClusterOutcome, MetaRequest } from '../../src/model/upstream.js';
import { startSimCluster, type SimCluster, type SimClusterOptions } from '../../sim/cluster.js';
import { decodeQueryConfigReply } from '../../sim/decode.js';
import { identifyCluster } from '../../sim/identify.js';
import { queryConfigOk, stamp } from '../../sim/replies.js';
import { queryConfigArgs } from '../../sim/wire.js';

const QUERY = 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX';
const TABLES = { temp: { appId: 3, partitionCount: 8 } };
const BACKUP_MS = 300;

const open: { clusters: SimCluster[]; pools: UpstreamPool[]; sweeps: Sweep[] } = { clusters: [], pools: [], sweeps: [] };

afterEach(async () => {
  for (const s of open.sweeps.splice(0)) s.close();
  for (const p of open.pools.splice(0)) p.close();
  await Promise.all(open.clusters.splice(0).map((c) => c.close()));
});

async function sim(o: Partial<SimClusterOptions> = {}): Promise<SimCluster> {
  const c = await startSimCluster({ name: 'A', tables: TABLES, ...o });
  open.clusters.push(c);
  return c;
}

function setup(): LeaderFollowingCallDeps & { pool: UpstreamPool } {
  const pool = createUpstreamPool({ connectTimeoutMs: 200, maxPendingCalls: 100, reconnectBackoff: { initialMs: 50, maxMs: 200 } });
  open.pools.push(pool);
  const sweep = createSweep(asyncScheduler);
  open.sweeps.push(sweep);
  return { pool, dispatcher: pool, sweep, scheduler: asyncScheduler, leaders: createLeaderBook(), backupDelayMs: BACKUP_MS, retryDelayMs: 50 };
}

const request = (table = 'temp'): MetaRequest => ({ name: QUERY, args: queryConfigArgs(table), timeoutMs: 0 });

async function ask(
  deps: LeaderFollowingCallDeps,
  cluster: { name: string; metas: string[] },
  deadlineMs = 2000,
  table = 'temp',
): Promise<{ outcome: ClusterOutcome; ms: number }> {
  const t0 = performance.now();
  const outcome = await firstValueFrom(askCluster(deps, cluster, request(table), deadlineMs));
  return { outcome, ms: performance.now() - t0 };
}

function answered(o: ClusterOutcome) {
  if (o.kind !== 'answer') throw new Error(`expected an answer, got ${o.error}: ${o.reason}`);
  return o.answer;
}

describe('askCluster against simulated clusters', () => {
  it('finds the leader from a route that lists only a follower, and remembers it', async () => {
    const c = await sim({ leader: 2 });
    const deps = setup();
    const route = { name: 'A', metas: [c.metas[0]!] };
    const first = answered((await ask(deps, route)).outcome);
    expect(first.meta).toBe(c.metas[2]);
    expect(first.reply.bodyError).toBe('ERR_OK');
    expect(identifyCluster(first.frame, ['B', 'A'])).toBe('A');
    expect(deps.leaders.get(route)).toBe(c.metas[2]);

    const before = c.requestCount(0);
    const second = answered((await ask(deps, route)).outcome);
    expect(second.meta).toBe(c.metas[2]);
    expect(c.requestCount(0)).toBe(before);
  });

  it('relays a 2.6-style answer byte for byte after following a forward', async () => {
    const c = await sim({ leader: 1, hostPort: true });
    const deps = setup();
    const a = answered((await ask(deps, { name: 'A', metas: c.metas })).outcome);
    expect(a.meta).toBe(c.metas[1]);
    expect(a.frame.equals(stamp(queryConfigOk('A', TABLES.temp, [], true), a.reply.seqid))).toBe(true);
    expect(decodeQueryConfigReply(a.frame).body!.partitions[0]!.hpPrimary).toBe('replica0.A.sim:34801');
  });

  it('tells clusters apart', async () => {
    const a = await sim({ name: 'A' });
    const b = await sim({ name: 'B', leader: 1 });
    const deps = setup();
    const fromB = answered((await ask(deps, { name: 'B', metas: b.metas })).outcome);
    const fromA = answered((await ask(deps, { name: 'A', metas: a.metas })).outcome);
    expect(identifyCluster(fromB.frame, ['A', 'B'])).toBe('B');
    expect(identifyCluster(fromA.frame, ['A', 'B'])).toBe('A');
  });

  it('answers from the new leader at once when the old leader is killed', async () => {
    const c = await sim({ leader: 0 });
    const deps = setup();
    const route = { name: 'A', metas: c.metas };
    answered((await ask(deps, route)).outcome);
    await c.kill(0);
    c.setLeader(2);
    const { outcome, ms } = await ask(deps, route);
    expect(answered(outcome).meta).toBe(c.metas[2]);
    expect(ms).toBeLessThan(BACKUP_MS + 400);
    expect(deps.leaders.get(route)).toBe(c.metas[2]);
  });

  it('answers from the new leader within the backup delay plus a round trip when the old one hangs', async () => {
    const c = await sim({ leader: 1 });
    const deps = setup();
    const route = { name: 'A', metas: c.metas };
    answered((await ask(deps, route)).outcome);
    c.setBehavior(1, { mode: 'silent' });
    c.setLeader(2);
    const { outcome, ms } = await ask(deps, route);
    expect(answered(outcome).meta).toBe(c.metas[2]);
    expect(ms).toBeGreaterThanOrEqual(BACKUP_MS - 5);
    expect(ms).toBeLessThan(BACKUP_MS + 400);
    // The losing call to the hung meta was unsubscribed, not left pending.
    expect(deps.pool.stats().find((s) => s.meta === c.metas[1])!.pending).toBe(0);
  });

  it('fails with ERR_NETWORK_FAILURE at the deadline, not later, when every meta is down', async () => {
    const c = await sim();
    await Promise.all([c.kill(0), c.kill(1), c.kill(2)]);
    const deps = setup();
    const { outcome, ms } = await ask(deps, { name: 'A', metas: c.metas }, 300);
    expect(outcome).toMatchObject({ kind: 'failed', error: 'ERR_NETWORK_FAILURE' });
    expect(ms).toBeGreaterThanOrEqual(295);
    expect(ms).toBeLessThan(700);
  });

  it('fails with ERR_TIMEOUT at the deadline when every meta is silent', async () => {
    const c = await sim();
    for (const i of [0, 1, 2]) c.setBehavior(i, { mode: 'silent' });
    const deps = setup();
    const { outcome, ms } = await ask(deps, { name: 'A', metas: c.metas }, 300);
    expect(outcome).toMatchObject({ kind: 'failed', error: 'ERR_TIMEOUT' });
    expect(ms).toBeGreaterThanOrEqual(295);
    expect(ms).toBeLessThan(700);
    expect(deps.pool.stats().every((s) => s.pending === 0)).toBe(true);
  });

  it('waits out a leader that is still starting, with the budget left in each request', async () => {
    const c = await sim();
    const deps = setup();
    c.serviceNotActiveFor(120);
    const { outcome, ms } = await ask(deps, { name: 'A', metas: c.metas }, 1000);
    expect(answered(outcome).reply.bodyError).toBe('ERR_OK');
    expect(ms).toBeGreaterThanOrEqual(115);
    expect(c.requestCount(0)).toBeGreaterThanOrEqual(3);
    const last = c.lastRequest(0)!.clientTimeoutMs;
    expect(last).toBeLessThanOrEqual(1000 - 100);
    expect(last).toBeGreaterThan(500);
  });

  it('relays OBJECT_NOT_FOUND as a final answer', async () => {
    const c = await sim();
    const deps = setup();
    const a = answered((await ask(deps, { name: 'A', metas: c.metas }, 1000, 'nope')).outcome);
    expect(a.reply.bodyError).toBe('ERR_OBJECT_NOT_FOUND');
  });

  it('moves past a meta that sends garbage', async () => {
    const c = await sim({ leader: 1 });
    c.setBehavior(0, { mode: 'garbage' });
    const deps = setup();
    const { outcome, ms } = await ask(deps, { name: 'A', metas: c.metas });
    expect(answered(outcome).meta).toBe(c.metas[1]);
    expect(ms).toBeLessThan(BACKUP_MS);
  });

  it('cancels its upstream calls when unsubscribed', async () => {
    const c = await sim();
    for (const i of [0, 1, 2]) c.setBehavior(i, { mode: 'silent' });
    const deps = setup();
    const sub = askCluster(deps, { name: 'A', metas: c.metas }, request(), 5000).subscribe();
    await new Promise((r) => setTimeout(r, BACKUP_MS + 50));
    expect(deps.pool.stats().reduce((n, s) => n + s.pending, 0)).toBe(3);
    sub.unsubscribe();
    expect(deps.pool.stats().reduce((n, s) => n + s.pending, 0)).toBe(0);
  });

  it('closes and reopens a connection whose calls keep going unanswered while the other metas answer', async () => {
    const c = await sim({ metas: 2, leader: 0 });
    c.setBehavior(0, { mode: 'silent' });
    const { logger, lines } = captureLogger();
    const reconnects: string[] = [];
    const pool = createUpstreamPool({
      connectTimeoutMs: 200,
      maxPendingCalls: 100,
      silentReconnectAfter: 2,
      onClose: (meta, reason) => reconnects.push(`${meta} ${reason}`),
      logger,
    });
    open.pools.push(pool);
    const sweep = createSweep(asyncScheduler);
    open.sweeps.push(sweep);
    const deps: LeaderFollowingCallDeps = { dispatcher: pool, sweep, scheduler: asyncScheduler, leaders: createLeaderBook(), backupDelayMs: 50, retryDelayMs: 20 };
    const route = { name: 'A', metas: c.metas };
    // Meta 0 is asked first and stays silent; meta 1 answers (a forward to 0) once the backup goes out.
    for (let i = 0; i < 2; i++) expect((await ask(deps, route, 200)).outcome).toMatchObject({ kind: 'failed', error: 'ERR_TIMEOUT' });
    expect(reconnects).toEqual([`${c.metas[0]} silent`]);
    const warned = lines.filter((line) => String(line['msg']).includes('reconnecting'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ meta: c.metas[0], outrunCalls: 2 });
    expect(c.connectionCount(0)).toBe(1);

    c.setBehavior(0, { mode: 'normal' });
    expect(answered((await ask(deps, route, 2000)).outcome).meta).toBe(c.metas[0]);
    expect(c.connectionCount(0)).toBe(2);
    // A connection that answers is left alone, however many calls it takes.
    for (let i = 0; i < 5; i++) answered((await ask(deps, route, 2000)).outcome);
    expect(reconnects).toHaveLength(1);
  });
});
