import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createZooKeeperDriver } from '../../src/io/zookeeper.js';
import { createZkRegistry } from '../../src/streams/zkRegistry.js';
import type { RouteState } from '../../src/model/route.js';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { routeJson, waitFor } from './support.js';

// A server of its own: this file stops and restarts it.
let zk: ZkServer;
beforeAll(async () => {
  zk = await startZooKeeper();
});
afterAll(async () => {
  await zk?.dispose();
});

const isRoute = (cluster: string) => (s: RouteState) => s.kind === 'route' && s.cluster === cluster;

describe('ZooKeeper route registry while ZooKeeper is down', () => {
  it('serves cached routes as stale, gives uncached tables unavailable in time, and catches up after a restart', async () => {
    const driver = createZooKeeperDriver({ address: [zk.connectString], timeoutMs: 1000 });
    const registry = createZkRegistry({ driver, root: '/outage', capacity: 16, timeoutMs: 1000 });
    try {
      await zk.set('/outage/t1', routeJson('c1'));
      const t1$ = registry.route('t1');
      await waitFor(t1$, isRoute('c1'), 't1');
      expect(registry.tables()).toEqual([expect.objectContaining({ table: 't1', stale: false })]);

      await zk.stop();
      await waitFor(registry.ready$, (ready) => !ready, 'not ready');
      expect(registry.tables()).toEqual([expect.objectContaining({ table: 't1', stale: true, state: expect.objectContaining({ cluster: 'c1' }) })]);
      expect(await waitFor(registry.route('t1'), () => true, 'the cached route', 100)).toMatchObject({ cluster: 'c1' });

      const started = Date.now();
      const t2 = await waitFor(registry.route('t2'), () => true, 'an answer for an uncached table', 2000);
      expect(t2).toMatchObject({ kind: 'unavailable', table: 't2' });
      expect(Date.now() - started).toBeLessThan(2500);

      await zk.restart();
      // Written through another client, racing the registry's own reconnection.
      await zk.set('/outage/t1', routeJson('c2'));
      await waitFor(t1$, isRoute('c2'), 'the change made after the restart', 8000);
      await waitFor(registry.route('t2'), (s) => s.kind === 'missing', 't2 read once ZooKeeper is back', 8000);
      await waitFor(registry.ready$, (ready) => ready, 'ready');
      expect(registry.tables().find((t) => t.table === 't1')?.stale).toBe(false);
    } finally {
      registry.dispose();
      driver.close();
    }
  });
});
