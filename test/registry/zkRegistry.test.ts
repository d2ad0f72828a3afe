import { tap } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createZooKeeperDriver, type ZooKeeperDriver } from '../../src/io/zookeeper.js';
import { createZkRegistry } from '../../src/streams/zkRegistry.js';
import type { RouteRegistry, RouteState } from '../../src/model/route.js';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { routeJson, waitFor } from './support.js';

let zk: ZkServer;
let cleanups: Array<() => void> = [];
let rootCount = 0;

beforeAll(async () => {
  zk = await startZooKeeper();
});
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});
afterAll(async () => {
  await zk?.dispose();
});

/** A registry on a root of its own, over a real driver whose watch events are recorded per path. */
function setup(options: { capacity?: number; timeoutMs?: number } = {}) {
  const root = `/routes${++rootCount}`;
  const driver: ZooKeeperDriver = createZooKeeperDriver({ address: [zk.connectString], timeoutMs: options.timeoutMs ?? 1000 });
  const events: string[] = [];
  const recorded = { ...driver, watchData: (path: string) => driver.watchData(path).pipe(tap((e) => events.push(`${path}:${e.kind}`))) };
  const reads: string[] = [];
  const registry: RouteRegistry = createZkRegistry({
    driver: recorded,
    root,
    capacity: options.capacity ?? 16,
    timeoutMs: options.timeoutMs ?? 1000,
    hooks: { zkRead: (table) => reads.push(table) },
  });
  cleanups.push(() => driver.close(), () => registry.dispose());
  return { root, driver, registry, reads, events };
}

const isRoute = (cluster: string) => (s: RouteState) => s.kind === 'route' && s.cluster === cluster;

describe('ZooKeeper route registry', () => {
  it('reads a table once, then follows changes, deletes and re-creates', async () => {
    const { root, registry, reads } = setup();
    await zk.set(`${root}/t1`, routeJson('c1', '127.0.0.1:34601, 127.0.0.2:34601'));
    const route$ = registry.route('t1');
    expect(registry.route('t1')).toBe(route$);
    expect(await waitFor(route$, isRoute('c1'), 'c1')).toMatchObject({ metas: ['127.0.0.1:34601', '127.0.0.2:34601'], version: 0 });
    await waitFor(registry.route('t1'), isRoute('c1'), 'c1 from the cache');
    expect(reads).toEqual(['t1']);

    const changed = waitFor(route$, isRoute('c2'), 'the change to c2', 1000);
    const started = Date.now();
    await zk.set(`${root}/t1`, routeJson('c2'));
    await changed;
    expect(Date.now() - started).toBeLessThan(900);

    await zk.remove(`${root}/t1`);
    await waitFor(route$, (s) => s.kind === 'missing', 'missing');
    await zk.set(`${root}/t1`, routeJson('c3'));
    await waitFor(route$, isRoute('c3'), 'the re-created route');
    expect(reads).toEqual(['t1']);
  });

  it('keeps `capacity` tables: the oldest is evicted and unwatched, and reading it again works', async () => {
    const { root, registry, reads, events } = setup({ capacity: 2 });
    for (const t of ['t1', 't2', 't3']) await zk.set(`${root}/${t}`, routeJson(`${t}-a`));
    await waitFor(registry.route('t1'), isRoute('t1-a'), 't1');
    await waitFor(registry.route('t2'), isRoute('t2-a'), 't2');
    await waitFor(registry.route('t3'), isRoute('t3-a'), 't3');
    expect(registry.tables().map((t) => t.table).sort()).toEqual(['t2', 't3']);

    const seen = events.length;
    await zk.set(`${root}/t1`, routeJson('t1-b'));
    await zk.set(`${root}/t3`, routeJson('t3-b'));
    await waitFor(registry.route('t3'), isRoute('t3-b'), 't3 changed');
    // t3's change arrived; t1's did not reach the registry, its watch being gone.
    expect(events.slice(seen)).toEqual([`${root}/t3:data`]);

    expect(await waitFor(registry.route('t1'), (s) => s.kind === 'route', 't1 again')).toMatchObject({ cluster: 't1-b' });
    expect(reads).toEqual(['t1', 't2', 't3', 't1']);
  });

  it('answers invalid for bad data and bad names, and recovers when the data is fixed', async () => {
    const { root, registry } = setup();
    await zk.set(`${root}/bad`, '{"cluster_name": "c1", "meta_addrs": ');
    const route$ = registry.route('bad');
    expect(await waitFor(route$, (s) => s.kind === 'invalid', 'invalid')).toMatchObject({ reason: expect.stringMatching(/not JSON/) });
    await zk.set(`${root}/bad`, { cluster_name: 'c1', meta_addrs: [] });
    expect(await waitFor(route$, (s) => s.kind === 'invalid' && /no address/.test(s.reason), 'no addresses')).toBeTruthy();
    await zk.set(`${root}/bad`, routeJson('c1'));
    await waitFor(route$, isRoute('c1'), 'fixed');
    expect(await waitFor(registry.route('../x'), () => true, 'a bad name')).toMatchObject({ kind: 'invalid' });
  });

  it('restores every watch after the session expires and shows what changed meanwhile', async () => {
    const { root, driver, registry } = setup();
    await zk.set(`${root}/t1`, routeJson('c1'));
    await zk.set(`${root}/t2`, routeJson('x1'));
    const t1$ = registry.route('t1');
    const t2$ = registry.route('t2');
    await waitFor(t1$, isRoute('c1'), 't1');
    await waitFor(t2$, isRoute('x1'), 't2');
    const states: string[] = [];
    const watching = driver.state$.subscribe((s) => states.push(s));
    cleanups.push(() => watching.unsubscribe());

    const session = driver.session();
    expect(session).toBeDefined();
    await zk.expireSession(session!.id, session!.password);
    // Racing the registry's new session: seen either by its re-read or by its new watch.
    await zk.set(`${root}/t1`, routeJson('c2'));
    await waitFor(t1$, isRoute('c2'), 't1 changed around the expiry', 5000);
    await waitFor(registry.ready$, (ready) => ready, 'ready again');
    expect(states).toContain('expired');
    expect(driver.session()?.id).not.toBe(session!.id);

    await zk.set(`${root}/t2`, routeJson('x2'));
    await waitFor(t2$, isRoute('x2'), 't2 changed after the new session');
    expect(registry.tables().some((t) => t.stale)).toBe(false);
  });
});
