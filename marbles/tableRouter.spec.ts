import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { Subject, type Observable } from 'rxjs';
import type { RouteState, Route } from '../src/model/route.js';
import { answer, core, metaOf, reply$ } from './support/core.js';

const testScheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));
const A: Route = { kind: 'route', table: 't', cluster: 'A', metas: [metaOf('A')], version: 1 };

describe('createTableRouter', () => {
  it('builds one pipeline per table on its first query and tells the registry the table is in use once a second', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const route$ = hot<RouteState>('a----', { a: A });
      const asked: number[] = [];
      const { router } = core(scheduler, () => (asked.push(scheduler.now()), route$), { A: cold('-o|', { o: answer('A') }) });
      expectObservable(reply$(router, scheduler, { seqid: 1 })).toBe('-(r|)', { r: 'A#1' });
      const replies: string[] = [];
      cold('--x 996ms y 1s z').subscribe((step) => reply$(router, scheduler, { seqid: step.charCodeAt(0) }).subscribe((r) => replies.push(r)));
      scheduler.flush();
      expect(replies).toEqual(['A#120', 'A#121', 'A#122']);
      // At 0 (the first query); not at 2 or 999, within a second of it; again at 2000.
      expect(asked).toEqual([0, 2000]);
      expect(router.size()).toBe(1);
      // One subscription to the route stream for all the queries: the pipeline's.
      expectSubscriptions(route$.subscriptions).toBe('^----');
    });
  });

  it('ends an evicted table\'s pipeline at once when idle, or once its pending queries are answered', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const evicted$ = new Subject<string>();
      const t$ = hot<RouteState>('a---------', { a: A });
      const u$ = cold<RouteState>('a', { a: { ...A, table: 'u' } });
      const routes: Record<string, Observable<RouteState>> = { t: t$, u: u$ };
      const { router } = core(scheduler, (table) => routes[table]!, { A: cold('----o|', { o: answer('A') }) }, {
        registry: { route: (table) => routes[table]!, evicted$ },
      });
      expectObservable(reply$(router, scheduler, { table: 't', seqid: 1 })).toBe('----(r|)', { r: 'A#1' });
      cold('-----x').subscribe(() => reply$(router, scheduler, { table: 'u', seqid: 2 }).subscribe());
      // t evicted at 2 with a query pending (ends at 4, after its reply); u evicted at 6 while its query is pending too.
      cold('--t---u').subscribe((table) => evicted$.next(table));
      expectSubscriptions(t$.subscriptions).toBe('^---!');
      expectSubscriptions(u$.subscriptions).toBe('-----^---!');
      scheduler.flush();
      expect(router.size()).toBe(0);
    });
  });

  it('replaces a pipeline whose table came back into the cache with a new route stream', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectSubscriptions }) => {
      const first$ = hot<RouteState>('a', { a: A });
      const second$ = hot<RouteState>('a', { a: A });
      let current = first$;
      const { router } = core(scheduler, () => current, { A: cold('-o|', { o: answer('A') }) });
      reply$(router, scheduler, { seqid: 1 }).subscribe();
      // Seen when the registry is next asked, a second after the table was last reported in use.
      cold('1s x').subscribe(() => {
        current = second$;
        reply$(router, scheduler, { seqid: 2 }).subscribe();
      });
      expectSubscriptions(first$.subscriptions).toBe('^ 999ms !');
      expectSubscriptions(second$.subscriptions).toBe('1s ^');
    });
  });
});
