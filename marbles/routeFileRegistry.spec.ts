import type { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { createFileRegistry, parseRouteFile } from '../src/streams/fileRegistry.js';
import type { FileSnapshot } from '../src/model/fileWatchTypes.js';
import type { RouteState } from '../src/model/route.js';

const content = (text: string): FileSnapshot => ({ kind: 'content', text });
const route = (table: string, cluster: string, version: number, metas = ['10.0.0.1:34601']): RouteState => ({
  kind: 'route',
  table,
  cluster,
  metas,
  version,
});

const V1 = content(`
t1: { cluster_name: c1, meta_addrs: "10.0.0.1:34601" }
t2:
  cluster_name: c2
  meta_addrs: [10.0.0.1:34601]
`);
const BROKEN = content('t1: { cluster_name: c1, meta_addrs: [');
const V2 = content('{"t1": {"cluster_name": "c3", "meta_addrs": "10.0.0.1:34601"}, "t2x": {"cluster_name": "c2"}}');

function setup() {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

function registryOf(scheduler: TestScheduler, file$: Observable<FileSnapshot>, capacity?: number) {
  const watched: string[] = [];
  const registry = createFileRegistry({
    file: '/etc/routes.yaml',
    watch: (file) => {
      watched.push(file);
      return file$;
    },
    scheduler,
    capacity,
  });
  return { registry, watched };
}

describe('parseRouteFile', () => {
  it('reads YAML and JSON maps of table → route, an entry at a time', () => {
    const parsed = parseRouteFile('a: {cluster_name: c, meta_addrs: "h:1"}\nb: {cluster_name: c}\n', 4);
    expect(parsed.ok).toBe(true);
    const routes = parsed.ok ? parsed.routes : new Map();
    expect(routes.get('a')).toEqual(route('a', 'c', 4, ['h:1']));
    expect(routes.get('b')).toMatchObject({ kind: 'invalid', table: 'b' });
  });

  it.each([
    ['empty', '  \n', /empty/],
    ['not YAML', 'a: [', /not YAML/],
    ['a list', '- a\n- b\n', /must map table names/],
    ['a scalar', 'hello', /must map table names/],
    ['a duplicated key', 'a: {}\na: {}\n', /not YAML/],
  ])('rejects a file that is %s', (_what, text, reason) => {
    const parsed = parseRouteFile(text, 1);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok === false && parsed.reason).toMatch(reason);
  });
});

describe('fileRegistry', () => {
  it('follows edits; a broken edit keeps the last good routes (stale) and a removed table goes missing', () => {
    const scheduler = setup();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const file$ = cold('a-b-c', { a: V1, b: BROKEN, c: V2 });
      const { registry, watched } = registryOf(scheduler, file$);
      expectObservable(registry.route('t1')).toBe('a---c', { a: route('t1', 'c1', 1), c: route('t1', 'c3', 2) });
      expectObservable(registry.route('t2')).toBe('a---m', { a: route('t2', 'c2', 1), m: { kind: 'missing', table: 't2' } });
      expectObservable(registry.route('t2x')).toBe('a---i', {
        a: { kind: 'missing', table: 't2x' },
        i: { kind: 'invalid', table: 't2x', reason: expect.stringMatching(/meta_addrs/) },
      });
      const stale: boolean[] = [];
      cold('-s-s-s').subscribe(() => stale.push(registry.tables().find((t) => t.table === 't1')?.stale ?? true));
      // The file is watched once, for the registry, not once per table.
      expectSubscriptions(file$.subscriptions).toBe('^');
      scheduler.flush();
      expect(stale).toEqual([false, true, false]);
      expect(watched).toEqual(['/etc/routes.yaml']);
    });
  });

  it('is not ready, and routes are unavailable, until the file first loads', () => {
    const scheduler = setup();
    scheduler.run(({ cold, expectObservable }) => {
      const file$ = cold('m-b-a', { m: { kind: 'missing' } as FileSnapshot, b: BROKEN, a: V1 });
      const { registry } = registryOf(scheduler, file$);
      expectObservable(registry.ready$).toBe('f---t', { f: false, t: true });
      expectObservable(registry.route('t1')).toBe('u-v-a', {
        u: { kind: 'unavailable', table: 't1', reason: '/etc/routes.yaml does not exist' },
        v: { kind: 'unavailable', table: 't1', reason: expect.stringMatching(/^\/etc\/routes.yaml: not YAML/) },
        a: route('t1', 'c1', 1),
      });
    });
  });

  it('keeps at most `capacity` tables and stops the file watch on dispose', () => {
    const scheduler = setup();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const file$ = cold('a', { a: V1 });
      const { registry } = registryOf(scheduler, file$, 1);
      const first = registry.route('t1');
      expect(registry.route('t1')).toBe(first);
      registry.route('t2');
      expect(registry.route('t1')).not.toBe(first);
      expectObservable(registry.route('bad/name')).toBe('i', { i: { kind: 'invalid', table: 'bad/name', reason: expect.stringMatching(/'\/'/) } });
      let cached: string[] = [];
      cold('--x').subscribe(() => (cached = registry.tables().map((t) => t.table)));
      cold('---x').subscribe(() => registry.dispose());
      expectSubscriptions(file$.subscriptions).toBe('^--!');
      scheduler.flush();
      expect(cached).toEqual(['t1']);
      expect(registry.tables()).toEqual([]);
    });
  });

  it('an evicted table still observed by a request in flight keeps following edits', () => {
    const scheduler = setup();
    scheduler.run(({ cold, expectObservable }) => {
      const file$ = cold('a---c', { a: V1, c: V2 });
      const { registry } = registryOf(scheduler, file$, 1);
      const held = registry.route('t1');
      expectObservable(held).toBe('a---c', { a: route('t1', 'c1', 1), c: route('t1', 'c3', 2) });
      // Evicts t1 while its observer stays subscribed.
      cold('--x').subscribe(() => registry.route('t2'));
      scheduler.flush();
      expect(registry.tables().map((t) => t.table)).toEqual(['t2']);
    });
  });

  it('a file watch that fails is logged and restarted; the routes stay, a repeat reaches nobody', () => {
    const scheduler = setup();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      // Loads V1, fails at 2; the restart at 102 reads V1 again (no news), then V2 at 104.
      const watches = [cold<FileSnapshot>('a-#', { a: V1 }), cold<FileSnapshot>('a-c', { a: V1, c: V2 })];
      const logged: Array<{ file: string; attempt: number; restartInMs: number }> = [];
      let n = 0;
      const registry = createFileRegistry({
        file: '/etc/routes.yaml',
        watch: () => watches[n++]!,
        scheduler,
        logger: { debug() {}, info() {}, warn() {}, error: (o: { file: string; attempt: number; restartInMs: number }) => void logged.push({ file: o.file, attempt: o.attempt, restartInMs: o.restartInMs }) },
      });
      expectObservable(registry.route('t1')).toBe('a 103ms c', { a: route('t1', 'c1', 1), c: route('t1', 'c3', 3) });
      expectSubscriptions(watches[0]!.subscriptions).toBe('^-!');
      expectSubscriptions(watches[1]!.subscriptions).toBe('102ms ^');
      scheduler.flush();
      expect(logged).toEqual([{ file: '/etc/routes.yaml', attempt: 1, restartInMs: 100 }]);
      // The restart went on from the routes in force: V2 is the third good load, not the second.
      expect(registry.tables()).toEqual([{ table: 't1', state: route('t1', 'c3', 3), stale: false, changedAt: 104 }]);
    });
  });
});
