import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { defer, type Observable } from 'rxjs';
import { createRouteCache } from '../src/streams/routeCache.js';
import type { RouteState } from '../src/model/route.js';

const testScheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));
const route = (table: string, cluster: string, version = 1): RouteState => ({ kind: 'route', table, cluster, metas: ['m:1'], version });

describe('createRouteCache', () => {
  it('feeds each cached table once through one replayed stream, emitting distinct states', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const t1 = cold<RouteState>('a-b--c', { a: route('t1', 'c1'), b: route('t1', 'c1', 2), c: route('t1', 'c2', 3) });
      const feeds: string[] = [];
      const cache = createRouteCache({
        capacity: 2,
        now: () => scheduler.now(),
        feed: (table) => (feeds.push(table), t1),
      });
      const first = cache.route('t1');
      expect(cache.route('t1')).toBe(first);
      expectObservable(first).toBe('a----c', { a: route('t1', 'c1'), c: route('t1', 'c2', 3) });
      // A late reader gets the latest state at once.
      const late: string[] = [];
      cold('---x').subscribe(() => cache.route('t1').subscribe((s) => late.push(`${s.kind === 'route' ? s.cluster : s.kind}@${scheduler.now()}`)));
      expectSubscriptions(t1.subscriptions).toBe('^-----');
      scheduler.flush();
      expect(late).toEqual(['c1@3', 'c2@5']);
      expect(feeds).toEqual(['t1']);
      expect([...cache.entries()].map((e) => [e.table, e.state])).toEqual([['t1', route('t1', 'c2', 3)]]);
    });
  });

  it('is the one place route states are de-duplicated: a repeated state reaches no observer twice', () => {
    const scheduler = testScheduler();
    const a = route('t1', 'c1', 0);
    const x = route('t1', 'c1', 1); // a rewritten: another version, same cluster and metas
    const b = route('t1', 'c2', 2);
    const m: RouteState = { kind: 'missing', table: 't1' };
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const feed = hot<RouteState>('--a--x--b--m--m--a--', { a, x, b, m });
      const changed: string[] = [];
      const cache = createRouteCache({
        capacity: 2,
        now: () => scheduler.now(),
        feed: () => feed,
        changed: (entry, state) => void changed.push(`${entry.table} ${state.kind === 'route' ? state.cluster : state.kind}@${scheduler.now()}`),
      });
      expectObservable(cache.route('t1')).toBe('       --a-----b--m-----a--', { a, b, m });
      // A second observer from frame 4 gets the latest at once, then the same changes.
      cold('----x').subscribe(() => expectObservable(cache.route('t1')).toBe('----a---b--m-----a--', { a, b, m }));
      expectSubscriptions(feed.subscriptions).toBe('^-------------------');
      scheduler.flush();
      expect(changed).toEqual(['t1 c1@2', 't1 c2@8', 't1 missing@11', 't1 c1@17']);
    });
  });

  it('publish hands every fed table its state, a change only, also an evicted one still observed', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const cache = createRouteCache({ capacity: 1, now: () => scheduler.now(), feed: (table) => cold<RouteState>('a', { a: route(table, 'c1') }) });
      const t1 = cache.route('t1');
      expectObservable(t1).toBe('a-b--c', { a: route('t1', 'c1'), b: route('t1', 'c2', 2), c: route('t1', 'c5', 5) });
      // t2 evicts t1 at 1, which its observer keeps fed.
      const t2: string[] = [];
      cold('-x').subscribe(() => cache.route('t2').subscribe((s) => void t2.push(`${s.kind === 'route' ? s.cluster : s.kind}@${scheduler.now()}`)));
      const cluster = (n: number) => (table: string) => route(table, `c${n}`, n);
      cold('--x--y').subscribe({ next: () => cache.publish(cluster(scheduler.now())) });
      // The same target again: nobody hears it.
      cold('---x').subscribe(() => cache.publish(cluster(2)));
      scheduler.flush();
      expect(t2).toEqual(['c1@1', 'c2@2', 'c5@5']);
      expect(cache.size).toBe(1);
    });
  });

  it('says which tables leave: the least recently used on overflow, all on dispose', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const cache = createRouteCache({ capacity: 2, now: () => scheduler.now(), feed: (table) => cold<RouteState>('a', { a: route(table, 'c') }) });
      const evicted: string[] = [];
      cache.evicted$.subscribe({ next: (t) => evicted.push(t), complete: () => evicted.push('|') });
      cache.route('t1');
      cache.route('t2');
      cache.route('t1');
      cache.route('t3');
      flush();
      expect(evicted).toEqual(['t2']);
      cache.dispose();
      expect(evicted.slice(1).sort()).toEqual(['t1', 't3', '|'].sort());
      expect(cache.size).toBe(0);
    });
  });

  it('keeps the last route when a feed errors, logs it, and restarts the feed after a growing delay', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      // Fails right after its first state; the restarted feed fails at once, then gives a new state.
      const feeds = [cold<RouteState>('a-#', { a: route('t1', 'c1') }), cold<RouteState>('#'), cold<RouteState>('b', { b: route('t1', 'c2', 2) })];
      const logged: Array<{ attempt: number; restartInMs: number }> = [];
      const logger = { debug() {}, info() {}, warn() {}, error: (o: { attempt: number; restartInMs: number }) => void logged.push({ attempt: o.attempt, restartInMs: o.restartInMs }) };
      let n = 0;
      const cache = createRouteCache({
        capacity: 2,
        now: () => scheduler.now(),
        feed: () => defer(() => feeds[n++]!),
        logger,
      });
      //        a at 0, error at 2, restart at 102 errors, restart at 302 gives b
      expectObservable(cache.route('t1'), '^ 400ms !').toBe('a 301ms b', { a: route('t1', 'c1'), b: route('t1', 'c2', 2) });
      expectSubscriptions(feeds[0]!.subscriptions).toBe('^-!');
      expectSubscriptions(feeds[1]!.subscriptions).toBe('102ms (^!)');
      expectSubscriptions(feeds[2]!.subscriptions).toBe('302ms ^');
      scheduler.flush();
      expect(logged).toEqual([
        { attempt: 1, restartInMs: 100 },
        { attempt: 2, restartInMs: 200 },
      ]);
    });
  });

  it('answers invalid for a name that cannot be a table, without feeding it', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable }) => {
      const fed: string[] = [];
      const cache = createRouteCache({ capacity: 2, now: () => 0, feed: (table): Observable<RouteState> => (fed.push(table), new (class {})() as never) });
      expectObservable(cache.route('a/b')).toBe('i', { i: { kind: 'invalid', table: 'a/b', reason: expect.any(String) } });
      expect(fed).toEqual([]);
    });
  });
});
