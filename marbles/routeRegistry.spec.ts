import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { createZkRegistry, type ZkRegistryDeps } from '../src/streams/zkRegistry.js';
import type { RouteState } from '../src/model/route.js';
import type { ZkNodeEvent, ZkSessionState } from '../src/model/zkTypes.js';

const data = (cluster: string, version: number, metas = '10.0.0.1:34601'): ZkNodeEvent => ({
  kind: 'data',
  data: Buffer.from(JSON.stringify({ cluster_name: cluster, meta_addrs: metas })),
  version,
});
const route = (table: string, cluster: string, version: number, metas = ['10.0.0.1:34601']): RouteState => ({
  kind: 'route',
  table,
  cluster,
  metas,
  version,
});
const missing: ZkNodeEvent = { kind: 'missing' };
const failed: ZkNodeEvent = { kind: 'error', reason: 'reading /r/t1 failed: ZCONNECTIONLOSS (-4)' };

/** A driver whose nodes are marble observables; it records which paths were watched. */
function fakeDriver(state$: Observable<ZkSessionState>, nodes: Record<string, Observable<ZkNodeEvent>>) {
  const watched: string[] = [];
  const driver = {
    state$,
    watchData: (path: string) => {
      watched.push(path);
      const node = nodes[path];
      if (node === undefined) throw new Error(`test watched unexpected path ${path}`);
      return node;
    },
  };
  return { driver, watched };
}

function setup() {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

function registryOf(scheduler: TestScheduler, driver: ZkRegistryDeps['driver'], overrides: Partial<ZkRegistryDeps> = {}) {
  const reads: string[] = [];
  const registry = createZkRegistry({
    driver,
    root: '/r',
    capacity: 2,
    timeoutMs: 5,
    scheduler,
    hooks: { zkRead: (table) => reads.push(table) },
    ...overrides,
  });
  return { registry, reads };
}

describe('zkRegistry', () => {
  it('reads a table on its first request only, and hands every request the same stream', () => {
    const scheduler = setup();
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const node = cold('a', { a: data('c1', 0) });
      const { driver, watched } = fakeDriver(hot<ZkSessionState>('c', { c: 'connected' }), { '/r/t1': node });
      const { registry, reads } = registryOf(scheduler, driver);
      const first = registry.route('t1');
      const second = registry.route('t1');
      expect(second).toBe(first);
      expectObservable(first).toBe('a', { a: route('t1', 'c1', 0) });
      expectObservable(second).toBe('a', { a: route('t1', 'c1', 0) });
      // Kept watched by the cache after the requests are gone.
      expectSubscriptions(node.subscriptions).toBe('^');
      scheduler.flush();
      expect(reads).toEqual(['t1']);
      expect(watched).toEqual(['/r/t1']);
    });
  });

  it('emits changes only: the same route rewritten (new version) is not news', () => {
    const scheduler = setup();
    scheduler.run(({ cold, hot, expectObservable }) => {
      const node = cold('a-b-c-d', { a: data('c1', 0), b: data('c1', 1), c: data('c2', 2), d: data('c2', 3) });
      const { driver } = fakeDriver(hot<ZkSessionState>('c', { c: 'connected' }), { '/r/t1': node });
      const { registry } = registryOf(scheduler, driver);
      expectObservable(registry.route('t1')).toBe('a---c', { a: route('t1', 'c1', 0), c: route('t1', 'c2', 2) });
    });
  });

  it('turns a delete into missing, a re-create into a route, and bad data into invalid', () => {
    const scheduler = setup();
    scheduler.run(({ cold, hot, expectObservable }) => {
      const bad: ZkNodeEvent = { kind: 'data', data: Buffer.from('{oops'), version: 2 };
      const node = cold('a-m-b-x-c', { a: data('c1', 0), m: missing, b: data('c2', 0), x: bad, c: data('c3', 3) });
      const { driver } = fakeDriver(hot<ZkSessionState>('c', { c: 'connected' }), { '/r/t1': node });
      const { registry } = registryOf(scheduler, driver);
      expectObservable(registry.route('t1')).toBe('a-m-b-x-c', {
        a: route('t1', 'c1', 0),
        m: { kind: 'missing', table: 't1' },
        b: route('t1', 'c2', 0),
        x: { kind: 'invalid', table: 't1', reason: expect.stringMatching(/not JSON/) },
        c: route('t1', 'c3', 3),
      });
    });
  });

  it('evicts the least recently used table: its watch is dropped, a later request reads it again', () => {
    const scheduler = setup();
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const t1 = cold('a-----b', { a: data('c1', 0), b: data('c9', 1) });
      const t2 = cold('a', { a: data('c2', 0) });
      const t3 = cold('a', { a: data('c3', 0) });
      const { driver } = fakeDriver(hot<ZkSessionState>('c', { c: 'connected' }), { '/r/t1': t1, '/r/t2': t2, '/r/t3': t3 });
      const { registry, reads } = registryOf(scheduler, driver);
      const first = registry.route('t1');
      expectObservable(first, '^--!').toBe('a', { a: route('t1', 'c1', 0) });
      cold('-x').subscribe(() => registry.route('t2'));
      cold('---x').subscribe(() => registry.route('t3')); // capacity 2: t1 goes
      let again: Observable<RouteState> | undefined;
      cold('-----x').subscribe(() => {
        again = registry.route('t1');
        again.subscribe();
      });
      //          t1's change at frame 6 never reaches anyone: its first watch ended at 3.
      expectSubscriptions(t1.subscriptions).toBe(['^--!', '-----^']);
      expectSubscriptions(t2.subscriptions).toBe('-^---!'); // evicted in turn by t1's return
      expectSubscriptions(t3.subscriptions).toBe('---^');
      scheduler.flush();
      expect(again).not.toBe(first);
      expect(reads).toEqual(['t1', 't2', 't3', 't1']);
      expect(registry.tables().map((t) => t.table).sort()).toEqual(['t1', 't3']);
    });
  });

  it('keeps an evicted table watched while a request still uses it', () => {
    const scheduler = setup();
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const t1 = cold('a---b', { a: data('c1', 0), b: data('c2', 1) });
      const t2 = cold('a', { a: data('x', 0) });
      const { driver } = fakeDriver(hot<ZkSessionState>('c', { c: 'connected' }), { '/r/t1': t1, '/r/t2': t2 });
      const { registry } = registryOf(scheduler, driver, { capacity: 1 });
      expectObservable(registry.route('t1'), '^-----!').toBe('a---b', { a: route('t1', 'c1', 0), b: route('t1', 'c2', 1) });
      cold('--x').subscribe(() => registry.route('t2'));
      expectSubscriptions(t1.subscriptions).toBe('^-----!');
    });
  });

  it('marks cached routes stale while ZooKeeper is away, without re-emitting them', () => {
    const scheduler = setup();
    scheduler.run(({ cold, hot, expectObservable }) => {
      const state$ = hot<ZkSessionState>('c--d--c--x--c', { c: 'connected', d: 'disconnected', x: 'expired' });
      const node = cold('a-------------e-a', { a: data('c1', 0), e: failed });
      const { driver } = fakeDriver(state$, { '/r/t1': node });
      const { registry } = registryOf(scheduler, driver);
      const route$ = registry.route('t1');
      const stale: boolean[] = [];
      cold('-s--s--s--s--s-s-s').subscribe(() => stale.push(registry.tables()[0]?.stale ?? false));
      expectObservable(route$).toBe('a', { a: route('t1', 'c1', 0) });
      expectObservable(registry.ready$).toBe('t--f--t--f--t', { t: true, f: false });
      scheduler.flush();
      //                 c      d     c      x     c      e     a
      expect(stale).toEqual([false, true, false, true, false, true, false]);
    });
  });

  it('gives an uncached table unavailable at the timeout, then the route once ZooKeeper answers', () => {
    const scheduler = setup();
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const node = cold('      60ms a', { a: data('c1', 0) });
      const { driver } = fakeDriver(hot<ZkSessionState>('d', { d: 'disconnected' }), { '/r/t1': node });
      const { registry } = registryOf(scheduler, driver, { timeoutMs: 50 });
      expectObservable(registry.route('t1')).toBe('50ms u 9ms a', {
        u: { kind: 'unavailable', table: 't1', reason: 'ZooKeeper gave no answer for table t1 within 50 ms' },
        a: route('t1', 'c1', 0),
      });
      expectSubscriptions(node.subscriptions).toBe('^');
    });
  });

  it('does not time out a table that answered, and reports a failed first read at once', () => {
    const scheduler = setup();
    scheduler.run(({ cold, hot, expectObservable }) => {
      const fast = cold('a', { a: missing });
      const broken = cold('-e--a', { e: failed, a: data('c1', 0) });
      const { driver } = fakeDriver(hot<ZkSessionState>('c', { c: 'connected' }), { '/r/t1': fast, '/r/t2': broken });
      const { registry } = registryOf(scheduler, driver, { timeoutMs: 3 });
      expectObservable(registry.route('t1')).toBe('m', { m: { kind: 'missing', table: 't1' } });
      expectObservable(registry.route('t2')).toBe('-u--a', {
        u: { kind: 'unavailable', table: 't2', reason: failed.kind === 'error' ? failed.reason : '' },
        a: route('t2', 'c1', 0),
      });
    });
  });

  it('answers invalid for a table name that cannot be a node, without touching ZooKeeper', () => {
    const scheduler = setup();
    scheduler.run(({ hot, expectObservable }) => {
      const { driver, watched } = fakeDriver(hot<ZkSessionState>('c', { c: 'connected' }), {});
      const { registry, reads } = registryOf(scheduler, driver);
      expectObservable(registry.route('a/b')).toBe('i', { i: { kind: 'invalid', table: 'a/b', reason: expect.stringMatching(/'\/'/) } });
      expectObservable(registry.route('')).toBe('i', { i: { kind: 'invalid', table: '', reason: 'the table name is empty' } });
      scheduler.flush();
      expect(watched).toEqual([]);
      expect(reads).toEqual([]);
      expect(registry.tables()).toEqual([]);
    });
  });

  it('survives a throwing hook', () => {
    const scheduler = setup();
    scheduler.run(({ cold, hot, expectObservable }) => {
      const node = cold('a', { a: data('c1', 0) });
      const { driver } = fakeDriver(hot<ZkSessionState>('c', { c: 'connected' }), { '/r/t1': node });
      const { registry } = registryOf(scheduler, driver, {
        hooks: {
          zkRead: () => {
            throw new Error('metrics broke');
          },
        },
      });
      expectObservable(registry.route('t1')).toBe('a', { a: route('t1', 'c1', 0) });
    });
  });

  it('drops every watch on dispose', () => {
    const scheduler = setup();
    scheduler.run(({ cold, hot, expectSubscriptions }) => {
      const t1 = cold('a', { a: data('c1', 0) });
      const t2 = cold('a', { a: data('c2', 0) });
      const state$ = hot<ZkSessionState>('c', { c: 'connected' });
      const { driver } = fakeDriver(state$, { '/r/t1': t1, '/r/t2': t2 });
      const { registry } = registryOf(scheduler, driver);
      registry.route('t1');
      registry.route('t2');
      cold('----x').subscribe(() => registry.dispose());
      expectSubscriptions(t1.subscriptions).toBe('^---!');
      expectSubscriptions(t2.subscriptions).toBe('^---!');
      expectSubscriptions(state$.subscriptions).toBe('^---!');
    });
  });
});
