import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import type { Route, RouteState } from '../src/model/route.js';
import { budgetFor } from '../src/model/query.js';
import { createRouteCache } from '../src/streams/routeCache.js';
import type { MetaAnswer } from '../src/model/upstream.js';
import { answer, core, metaOf, reply$ } from './support/core.js';

const route = (cluster: string, metas = [metaOf(cluster)]): Route => ({ kind: 'route', table: 't', cluster, metas, version: 1 });
const A = route('A');
const B = route('B');
const missing: RouteState = { kind: 'missing', table: 't' };
const invalid: RouteState = { kind: 'invalid', table: 't', reason: 'bad json' };
const unavailable: RouteState = { kind: 'unavailable', table: 't', reason: 'zk down' };

const testScheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));

describe('a table\'s pipeline: route$ → switchMap(cluster call)', () => {
  it('relays the routed cluster\'s answer under the client\'s seqid', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions, flush }) => {
      const route$ = hot('  a------', { a: A });
      const callA = cold('  --x|', { x: answer('A') });
      //                    --x|
      const { router, finished } = core(scheduler, () => route$, { A: callA });
      expectObservable(reply$(router, scheduler)).toBe('--(r|)', { r: 'A#7' });
      expectSubscriptions(callA.subscriptions).toBe('^-!');
      flush();
      expect(finished).toEqual([{ table: 't', cluster: 'A', code: 'ERR_OK', latencyMs: 2, peer: 'test' }]);
    });
  });

  it('reroutes an in-flight call when the route changes: the old call is cancelled, the new cluster answers', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions, flush }) => {
      const route$ = hot('  a--b------', { a: A, b: B });
      const callA = cold('  -----x|', { x: answer('A') });
      //                       ----y|
      const callB = cold('     ----y|', { y: answer('B') });
      const { router, reroutes, cancels } = core(scheduler, () => route$, { A: callA, B: callB });
      expectObservable(reply$(router, scheduler)).toBe('-------(r|)', { r: 'B#7' });
      expectSubscriptions(callA.subscriptions).toBe('^--!');
      expectSubscriptions(callB.subscriptions).toBe('---^---!');
      flush();
      expect(reroutes).toEqual(['t A→B']);
      expect(cancels).toEqual([{ meta: metaOf('A'), reason: 'dropped' }]);
    });
  });

  it('answers ERR_OBJECT_NOT_FOUND when the route is deleted while the call is in flight', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot('  a--m---', { a: A, m: missing });
      const callA = cold('  -----x|', { x: answer('A') });
      const { router } = core(scheduler, () => route$, { A: callA });
      expectObservable(reply$(router, scheduler)).toBe('---(r|)', { r: 'ERR_OBJECT_NOT_FOUND#7' });
      expectSubscriptions(callA.subscriptions).toBe('^--!');
    });
  });

  it('maps route states without a cluster to the body errors of the design', () => {
    const cases: Array<[RouteState, string]> = [
      [missing, 'ERR_OBJECT_NOT_FOUND#7'],
      [invalid, 'ERR_INVALID_DATA#7'],
      [unavailable, 'ERR_ZOOKEEPER_OPERATION#7'],
    ];
    for (const [state, expected] of cases) {
      const scheduler = testScheduler();
      scheduler.run(({ hot, expectObservable, flush }) => {
        const route$ = hot('-s-', { s: state });
        const { router, finished } = core(scheduler, () => route$, {});
        expectObservable(reply$(router, scheduler)).toBe('-(r|)', { r: expected });
        flush();
        expect(finished[0]?.cluster).toBeUndefined();
      });
    }
  });

  it('answers ERR_ZOOKEEPER_OPERATION at the client\'s deadline while no route state has come', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      // ZooKeeper has said nothing about the table yet (slow, or unreachable with a long session timeout).
      const route$ = hot<RouteState>('-');
      const { router } = core(scheduler, () => route$, {});
      expectObservable(reply$(router, scheduler)).toBe('950ms (r|)', { r: 'ERR_ZOOKEEPER_OPERATION#7' });
    });
  });

  it('a route that comes within the budget is not cut short by that deadline', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable }) => {
      const route$ = hot('  500ms a', { a: A });
      const callA = cold('         700ms x|', { x: answer('A') });
      const { router } = core(scheduler, () => route$, { A: callA });
      expectObservable(reply$(router, scheduler, { budgetMs: 5000 })).toBe('1200ms (r|)', { r: 'A#7' });
    });
  });

  it('answers ERR_TIMEOUT at the deadline, a margin before the client\'s budget, when the routed cluster is silent', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot('a-', { a: A });
      const silent = cold<MetaAnswer>('-');
      const { router } = core(scheduler, () => route$, { A: silent });
      // 1000 ms budget: due at 950 ms; 2000 ms: at 1900 ms (the margin is min(100, budget / 20)).
      expectObservable(reply$(router, scheduler, { budgetMs: 1000 })).toBe('950ms (r|)', { r: 'ERR_TIMEOUT#7' });
      expectObservable(reply$(router, scheduler, { budgetMs: 2000, seqid: 8, indices: [1] })).toBe('1900ms (r|)', { r: 'ERR_TIMEOUT#8' });
      expectSubscriptions(silent.subscriptions).toBe(['^ 949ms !', '^ 1899ms !']);
    });
  });

  it('turns a header error into a body error', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable }) => {
      const route$ = hot('a-', { a: A });
      const { router } = core(scheduler, () => route$, { A: cold('-x|', { x: answer('A', 'ERR_BUSY') }) });
      expectObservable(reply$(router, scheduler)).toBe('-(r|)', { r: 'ERR_BUSY#7' });
    });
  });

  it('does not reroute when the route only changes version or is re-emitted with the same target', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const feed = hot('    a-b----', { a: A, b: { ...A, version: 2 } });
      const callA = cold('  ----x|', { x: answer('A') });
      // The route stream as the registries hand it out: through the route cache, the one place repeats are dropped.
      const routes = createRouteCache({ capacity: 1, now: () => scheduler.now(), feed: () => feed });
      const { router } = core(scheduler, (table) => routes.route(table), { A: callA });
      expectObservable(reply$(router, scheduler)).toBe('----(r|)', { r: 'A#7' });
      expectSubscriptions(callA.subscriptions).toBe('^---!');
    });
  });

  it('early unsubscribe (client gone) tears the upstream call down', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot('  a-------', { a: A });
      const callA = cold('  ------x|', { x: answer('A') });
      const { router } = core(scheduler, () => route$, { A: callA });
      expectObservable(reply$(router, scheduler), '^--!').toBe('---');
      expectSubscriptions(callA.subscriptions).toBe('^--!');
    });
  });

  it('a route moved to other metas of the same cluster re-issues in-flight queries to the new metas', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      // Still cluster A, now behind meta C-m1:1 (whose answers read `C`).
      const moved: Route = { ...A, metas: [metaOf('C')] };
      const route$ = hot('  a--b-----', { a: A, b: moved });
      const old = cold('    ---------x|', { x: answer('A') });
      const now = cold('       --y|', { y: answer('C') });
      const { router } = core(scheduler, () => route$, { A: old, C: now });
      expectObservable(reply$(router, scheduler)).toBe('-----(r|)', { r: 'C#7' });
      expectObservable(reply$(router, scheduler, { seqid: 8 })).toBe('-----(r|)', { r: 'C#8' });
      // One call to the old metas for both queries, dropped at the move; one to the new.
      expectSubscriptions(old.subscriptions).toBe('^--!');
      expectSubscriptions(now.subscriptions).toBe('---^-!');
    });
  });
});

describe('coalescing', () => {
  it('identical concurrent queries share one upstream call; each gets its own seqid', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot('  a-------', { a: A });
      const callA = cold('  ----x|', { x: answer('A') });
      const { router } = core(scheduler, () => route$, { A: callA });
      expectObservable(reply$(router, scheduler)).toBe('----(r|)', { r: 'A#7' });
      expectObservable(reply$(router, scheduler, { seqid: 8 })).toBe('----(r|)', { r: 'A#8' });
      expectSubscriptions(callA.subscriptions).toBe('^---!');
    });
  });

  it('the shared call survives one caller leaving and is cancelled when the last one leaves', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot('  a-------', { a: A });
      const callA = cold('  ------x|', { x: answer('A') });
      const { router } = core(scheduler, () => route$, { A: callA });
      expectObservable(reply$(router, scheduler), '^-!').toBe('---');
      expectObservable(reply$(router, scheduler, { seqid: 8 }), '^---!').toBe('-----');
      expectSubscriptions(callA.subscriptions).toBe('^---!');
    });
  });

  it('different partition indices do not share a call', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot('  a-------', { a: A });
      const callA = cold('  --x|', { x: answer('A') });
      const { router } = core(scheduler, () => route$, { A: callA });
      expectObservable(reply$(router, scheduler)).toBe('--(r|)', { r: 'A#7' });
      expectObservable(reply$(router, scheduler, { seqid: 8, indices: [1] })).toBe('--(r|)', { r: 'A#8' });
      expectSubscriptions(callA.subscriptions).toBe(['^-!', '^-!']);
    });
  });

  it('a caller with a shorter deadline than the call it joined gets ERR_TIMEOUT at its own deadline', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable }) => {
      const route$ = hot('  a-------', { a: A });
      const callA = cold('  ------x|', { x: answer('A') });
      const { router } = core(scheduler, () => route$, { A: callA });
      expectObservable(reply$(router, scheduler, { budgetMs: 100 })).toBe('------(r|)', { r: 'A#7' });
      expectObservable(reply$(router, scheduler, { seqid: 8, budgetMs: 3 })).toBe('---(r|)', { r: 'ERR_TIMEOUT#8' });
    });
  });

  it('a caller with more budget than the call it joined re-issues it when that call runs out', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot('  a-------', { a: A });
      const callA = cold('  ----x|', { x: answer('A') });
      //                       ----x|   re-issued at 3
      const { router } = core(scheduler, () => route$, { A: callA });
      // The first caller's budget (3) is the shared call's, and the meta takes longer than that.
      expectObservable(reply$(router, scheduler, { budgetMs: 3 })).toBe('---(r|)', { r: 'ERR_TIMEOUT#7' });
      expectObservable(reply$(router, scheduler, { seqid: 9, budgetMs: 50 })).toBe('-------(r|)', { r: 'A#9' });
      expectSubscriptions(callA.subscriptions).toBe(['^--!', '---^---!']);
    });
  });
});

describe('budgetFor', () => {
  it('uses the client timeout only when set and sane', () => {
    expect(budgetFor(2000, 5000, 60_000)).toBe(2000);
    expect(budgetFor(0, 5000, 60_000)).toBe(5000);
    expect(budgetFor(-5, 5000, 60_000)).toBe(5000);
    expect(budgetFor(2_000_000_000, 5000, 60_000)).toBe(5000);
  });
});
