import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import type { Observable } from 'rxjs';
import { createRouteCache } from '../src/streams/routeCache.js';
import type { RouteState } from '../src/streams/routeTypes.js';

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
