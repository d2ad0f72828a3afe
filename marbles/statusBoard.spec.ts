import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { defer, delay, of, throwError } from 'rxjs';
import { createStatusBoard } from '../src/streams/statusBoard.js';
import type { MetricFamily } from '../src/model/metricsTypes.js';
import type { RouteInfo, RouteState } from '../src/model/route.js';
import type { StatusBoardView, StatusQuery } from '../src/model/statusTypes.js';

const QUERY: StatusQuery = { filter: '', page: 1, pageSize: 100, sort: 'table' };
const A = ['a1:1', 'a2:1'];
const B = ['b1:1'];
const BOUNDS = [0.001, 0.01, 0.1, 1];

const route = (table: string, cluster: string, metas: string[], version = 1): RouteState => ({ kind: 'route', table, cluster, metas, version });

/** Counters as the registry would hold them; each read turns them into metric families. */
interface Counters {
  queries: Record<string, number>;
  /** table → code → latencies in seconds, one per answer. */
  answers: Record<string, Record<string, number[]>>;
  upstream: Record<string, Record<string, number>>;
  reroutes: Record<string, number>;
}

function families(counters: Counters): MetricFamily[] {
  const latency: Array<{ value: number; labels: Record<string, string | number>; metricName: string }> = [];
  for (const [table, codes] of Object.entries(counters.answers)) {
    for (const [code, seconds] of Object.entries(codes)) {
      const labels = { table, cluster: 'A', code, service: 'meta_proxy' };
      for (const le of BOUNDS) {
        latency.push({ value: seconds.filter((s) => s <= le).length, labels: { ...labels, le }, metricName: 'query_config_latency_seconds_bucket' });
      }
      latency.push({ value: seconds.length, labels: { ...labels, le: '+Inf' }, metricName: 'query_config_latency_seconds_bucket' });
      latency.push({ value: seconds.length, labels, metricName: 'query_config_latency_seconds_count' });
    }
  }
  const flat = (name: string, byLabel: Record<string, number>, label: string): MetricFamily => ({
    name,
    values: Object.entries(byLabel).map(([value, count]) => ({ value: count, labels: { [label]: value } })),
  });
  return [
    flat('client_query_config_count', counters.queries, 'table'),
    flat('reroute_count', counters.reroutes, 'table'),
    { name: 'query_config_latency_seconds', values: latency },
    {
      name: 'upstream_call_count',
      values: Object.entries(counters.upstream).flatMap(([meta, results]) =>
        Object.entries(results).map(([result, value]) => ({ value, labels: { meta, result } })),
      ),
    },
    { name: 'client_connection_count', values: [{ value: 3, labels: {} }] },
  ];
}

function setup(options: { metrics?: boolean; failReadsAt?: number[]; readTakesMs?: number } = {}) {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  const counters: Counters = { queries: {}, answers: {}, upstream: {}, reroutes: {} };
  const infos = new Map<string, RouteInfo>();
  const setRoute = (state: RouteState, at: number) => infos.set(state.table, { table: state.table, state, stale: false, changedAt: at });
  const reads: number[] = [];
  const warnings: unknown[] = [];
  const board = createStatusBoard({
    routes: () => [...infos.values()],
    leader: (cluster) => (cluster.name === 'A' ? 'a2:1' : undefined),
    ...(options.metrics !== false && {
      readMetrics: () =>
        defer(() => {
          reads.push(scheduler.now());
          if (options.failReadsAt?.includes(scheduler.now())) return throwError(() => new Error('registry broke'));
          const read = of(families(counters));
          return options.readTakesMs === undefined ? read : read.pipe(delay(options.readTakesMs, scheduler));
        }),
    }),
    scheduler,
    logger: { warn: (...args: unknown[]) => void warnings.push(args) },
  });
  const views: Array<{ at: number; view: StatusBoardView }> = [];
  /** Calls `act` at `at` ms of virtual time. */
  const at = (ms: number, act: () => void) => scheduler.schedule(act, ms);
  const look = (ms: number, query: StatusQuery = QUERY) => at(ms, () => views.push({ at: ms, view: board.view(query) }));
  return { scheduler, counters, setRoute, reads, warnings, board, views, at, look };
}

describe('status board', () => {
  it('samples every 2 s from the first look, and stops 2 min after the last look until the next one', () => {
    const { scheduler, reads, look, board } = setup();
    scheduler.run(() => {
      look(0);
      look(30_000);
      look(400_000);
      scheduler.schedule(() => board.dispose(), 405_000);
    });
    const firstRun = Array.from({ length: (150_000 - 2_000) / 2_000 + 1 }, (_, i) => i * 2_000);
    expect(reads).toEqual([...firstRun, 400_000, 402_000, 404_000]);
  });

  it('says rates are collecting until the second sample, then gives each table its rate, errors and p99', () => {
    const { scheduler, counters, setRoute, views, look, at } = setup();
    scheduler.run(() => {
      setRoute(route('t', 'A', A), 0);
      setRoute(route('u', 'A', A), 0);
      // t: 10 queries a second, all answered in 5 ms but for 1 % at 0.5 s; u: idle.
      for (let second = 0; second < 70; second += 1) {
        at(second * 1_000, () => {
          counters.queries.t = (counters.queries.t ?? 0) + 10;
          const t = (counters.answers.t ??= { ERR_OK: [] });
          for (let i = 0; i < 10; i += 1) t.ERR_OK!.push(second % 10 === 0 && i === 0 ? 0.5 : 0.005);
          counters.upstream['a2:1'] = { ERR_OK: (counters.upstream['a2:1']?.ERR_OK ?? 0) + 10 };
        });
      }
      at(40_500, () => {
        counters.answers.t!.ERR_TIMEOUT = [2, 2, 2];
        counters.upstream['a1:1'] = { timeout: 3 };
        counters.upstream['old:1'] = { cancelled: 1 };
      });
      look(0);
      look(1_000);
      look(65_000);
    });
    expect(views[0]!.view.rates).toMatchObject({ available: false, queryRate: null });
    expect(views[0]!.view.rates.reason).toContain('collecting');
    expect(views[0]!.view.tables.rows[0]).toMatchObject({ table: 't', rate: null, errors: null, p99Ms: null });

    const late = views[2]!.view;
    // Samples at 0, 10 s, ..., 60 s, 64 s kept: the window is 10 s → 64 s.
    expect(late.rates).toMatchObject({ available: true, windowSeconds: 54, sampledAt: new Date(64_000).toISOString() });
    const [t, u] = late.tables.rows;
    expect(t).toMatchObject({ table: 't', cluster: 'A', leader: 'a2:1', errors: { ERR_TIMEOUT: 3 } });
    expect(t!.rate).toBeCloseTo(10, 5);
    // In the window: 535 answers in 5 ms, 5 in 0.5 s, 3 in 2 s. Rank 0.99 × 543 = 537.57
    // lies in the (0.1 s, 1 s] bucket, 2.57 of its 5: 0.1 + 0.9 × 2.57 / 5 s.
    expect(t!.p99Ms).toBeCloseTo(562.63, 1);
    expect(t!.p99Above).toBe(false);
    expect(u).toMatchObject({ table: 'u', rate: 0, errors: {}, p99Ms: null });
    expect(late.rates.queryRate).toBeCloseTo(10, 5);
    expect(late.rates.errorRate).toBeCloseTo(3 / 54, 5);
    expect(late.clusters).toEqual([
      {
        name: 'A',
        tables: 2,
        stale: 0,
        metas: [
          { address: 'a1:1', leader: false, outcomes: { timeout: 3 } },
          { address: 'a2:1', leader: true, outcomes: { ERR_OK: 540 } },
        ],
      },
    ]);
    expect(late.unroutedMetas).toEqual([{ address: 'old:1', leader: false, outcomes: { cancelled: 1 } }]);
  });

  it('keeps a chart point per 10 s for the last 10 minutes, per table for the rows asked, with the changes marked', () => {
    const { scheduler, counters, setRoute, views, look, at } = setup();
    scheduler.run(() => {
      setRoute(route('t', 'A', A), 0);
      setRoute(route('u', 'A', A), 0);
      // t: 5 queries a second, answered in 5 ms; u: idle; one timeout a second from 300 s on; t moves to B at 400 s.
      for (let second = 0; second < 720; second += 1) {
        at(second * 1_000, () => {
          counters.queries.t = (counters.queries.t ?? 0) + 5;
          const t = (counters.answers.t ??= { ERR_OK: [] });
          for (let i = 0; i < 5; i += 1) t.ERR_OK!.push(0.005);
          if (second >= 300) (t.ERR_TIMEOUT ??= []).push(2);
        });
      }
      at(400_500, () => setRoute(route('t', 'B', B), 400_500));
      // Someone keeps looking.
      for (let ms = 0; ms <= 715_000; ms += 30_000) look(ms);
      look(715_000);
    });
    const view = views[views.length - 1]!.view;
    expect(view.history.step).toBe(10);
    // 10 minutes at 10 s: 60 points, oldest first, the newest the latest sample a step after the one before.
    expect(view.history.points).toHaveLength(60);
    const times = view.history.points.map((point) => Date.parse(point.at));
    expect(times[59]! - times[0]!).toBe(590_000);
    expect(times[59]!).toBeLessThanOrEqual(715_000);
    const last = view.history.points[59]!;
    expect(last.queryRate).toBeCloseTo(5, 3);
    expect(last.errorRate).toBeCloseTo(1, 3);
    // A sixth of the answers take 2 s, beyond the largest bucket (1 s): the p99 is that bound.
    expect(last.p99Ms).toBe(1_000);
    expect(view.history.changes).toEqual([{ at: new Date(400_500).toISOString(), table: 't' }]);
    const [t, u] = view.tables.rows;
    expect(t!.history.queryRate).toHaveLength(60);
    expect(t!.history.queryRate.every((rate) => Math.abs(rate - 5) < 0.01)).toBe(true);
    expect(t!.history.changes).toEqual([new Date(400_500).toISOString()]);
    expect(u!.history).toEqual({ queryRate: Array(60).fill(0), errorRate: Array(60).fill(0), p99Ms: Array(60).fill(null), changes: [] });
    // Before 300 s no errors, after 310 s one a second.
    const errorsAt = (ms: number) => t!.history.errorRate[times.findIndex((time) => time >= ms)]!;
    expect(errorsAt(200_000)).toBe(0);
    expect(errorsAt(320_000)).toBeCloseTo(1, 3);
  });

  it('draws no point across a pause nobody looked through', () => {
    const { scheduler, counters, views, look, at } = setup();
    scheduler.run(() => {
      for (let second = 0; second < 400; second += 1) at(second * 1_000, () => (counters.queries.t = (counters.queries.t ?? 0) + 1));
      look(0);
      // Sampling stops at 120 s; looks again at 300 s.
      look(300_000);
      look(340_000);
    });
    const times = views[2]!.view.history.points.map((point) => Date.parse(point.at) / 1000);
    expect(times.filter((time) => time > 120 && time < 310)).toEqual([]);
    expect(times.filter((time) => time <= 120)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110]);
    expect(times.filter((time) => time >= 310).length).toBe(3);
  });

  it('lists a switch with the reroutes that followed it, not a rewrite with the same content', () => {
    const { scheduler, counters, setRoute, views, look, at } = setup();
    scheduler.run(() => {
      setRoute(route('t', 'A', A), 0);
      setRoute(route('u', 'A', A), 0);
      look(0);
      at(5_000, () => {
        setRoute(route('t', 'B', B, 2), 5_000);
        setRoute(route('u', 'A', A, 2), 5_000);
        counters.reroutes.t = 3;
      });
      at(7_000, () => (counters.reroutes.t = 4));
      look(9_000);
      // Deleted while nobody looks (sampling stopped at 129 s): found at the next look.
      at(200_000, () => setRoute({ kind: 'missing', table: 't' }, 200_000));
      look(300_000);
      look(302_500);
    });
    expect(views[1]!.view.changes).toEqual([
      { at: new Date(5_000).toISOString(), table: 't', from: { kind: 'route', cluster: 'A', metas: A }, to: { kind: 'route', cluster: 'B', metas: B }, reroutes: 4 },
    ]);
    const after = views[3]!.view.changes;
    expect(after.map((c) => [c.table, c.from.cluster, c.to.kind])).toEqual([
      ['t', 'B', 'missing'],
      ['t', 'A', 'route'],
    ]);
    expect(after[0]!.reroutes).toBe(0);
    expect(views[2]!.view.rates.available).toBe(false);
  });

  it('keeps the newest 50 changes, newest first', () => {
    const { scheduler, setRoute, views, look, at } = setup();
    scheduler.run(() => {
      setRoute(route('t', 'C0', A), 0);
      look(0);
      for (let i = 1; i <= 60; i += 1) {
        at(i * 100, () => setRoute(route('t', `C${i}`, A), i * 100));
        look(i * 100 + 1);
      }
    });
    const changes = views[views.length - 1]!.view.changes;
    expect(changes).toHaveLength(50);
    expect(changes[0]).toMatchObject({ from: { cluster: 'C59' }, to: { cluster: 'C60' } });
    expect(changes[49]).toMatchObject({ from: { cluster: 'C10' }, to: { cluster: 'C11' } });
  });

  it('works without metrics: routes and changes, rates unavailable, reroutes unknown, nothing sampled', () => {
    const { scheduler, setRoute, reads, views, look, at } = setup({ metrics: false });
    scheduler.run(() => {
      setRoute(route('t', 'A', A), 0);
      look(0);
      at(1_000, () => setRoute(route('t', 'B', B, 2), 1_000));
      look(10_000);
    });
    expect(reads).toEqual([]);
    const view = views[1]!.view;
    expect(view.rates.available).toBe(false);
    expect(view.rates.reason).toContain('metric.type: none');
    expect(view.tables.rows[0]).toMatchObject({ cluster: 'B', rate: null, errors: null });
    expect(view.clusters[0]!.metas[0]!.outcomes).toBeNull();
    expect(view.changes[0]).toMatchObject({ table: 't', reroutes: null });
  });

  it('spaces reads out when they are slow: at most 5 % of the time goes to sampling', () => {
    const { scheduler, reads, look, board } = setup({ readTakesMs: 500 });
    scheduler.run(() => {
      look(0);
      scheduler.schedule(() => board.dispose(), 25_000);
    });
    // Each read takes 500 ms, so the next waits 10 s from the start of the last.
    expect(reads).toEqual([0, 10_000, 20_000]);
  });

  it('logs a failed read and samples again at the next tick', () => {
    const { scheduler, setRoute, reads, warnings, views, look } = setup({ failReadsAt: [2_000] });
    scheduler.run(() => {
      setRoute(route('t', 'A', A), 0);
      look(0);
      look(3_000);
      look(4_500);
    });
    expect(reads.slice(0, 3)).toEqual([0, 2_000, 4_000]);
    expect(warnings).toHaveLength(1);
    expect(views[1]!.view.rates.available).toBe(false);
    expect(views[2]!.view.rates).toMatchObject({ available: true, windowSeconds: 4 });
  });
});
