/**
 * Watching a node that does not exist, then letting it go, must leave nothing
 * behind. The native client keeps the JS watcher of every watched read until
 * that watch fires, and a read of a missing node leaves no watch to fire: a
 * watcher passed with it (and everything its closure holds, the subscriber
 * included) was kept for the life of the process. Found by the soak run: a
 * route cache churned by requests for made-up tables grew the heap ~2 MiB a
 * minute.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createZooKeeperDriver, type ZooKeeperDriver } from '../../src/io/zookeeper.js';
import type { ZkNodeEvent } from '../../src/model/zkTypes.js';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { sleep } from './support.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let zk: ZkServer;
let driver: ZooKeeperDriver;

beforeAll(async () => {
  zk = await startZooKeeper();
  await zk.set('/leak/present', 'x');
  driver = createZooKeeperDriver({ address: [zk.connectString], timeoutMs: 2000 });
});
afterAll(async () => {
  driver?.close();
  await zk?.dispose();
});

/** Subscribes to `paths`, waits for each first event, unsubscribes; returns weak references to the subscriptions. */
async function watchAndLeave(paths: string[]): Promise<Array<WeakRef<object>>> {
  const refs: Array<WeakRef<object>> = [];
  let answered = 0;
  const subscriptions = paths.map((path) =>
    driver.watchData(path).subscribe((event: ZkNodeEvent) => {
      if (event.kind !== 'error') answered++;
    }),
  );
  for (const s of subscriptions) refs.push(new WeakRef(s));
  for (let i = 0; i < 300 && answered < paths.length; i++) await sleep(10);
  expect(answered).toBe(paths.length);
  for (const s of subscriptions) s.unsubscribe();
  return refs;
}

async function collectedShare(refs: Array<WeakRef<object>>): Promise<number> {
  for (let i = 0; i < 5; i++) {
    gc();
    await sleep(20);
  }
  return refs.filter((ref) => ref.deref() === undefined).length / refs.length;
}

describe('ZooKeeper driver: watches that were left', () => {
  it('keeps nothing of a watch on a missing node once unsubscribed', async () => {
    const refs = await watchAndLeave(Array.from({ length: 200 }, (_, i) => `/leak/missing_${i}`));
    expect(await collectedShare(refs)).toBeGreaterThan(0.95);
  });

  it('keeps nothing of a watch on an existing node beyond its one armed watch', async () => {
    const refs = await watchAndLeave(Array.from({ length: 50 }, () => '/leak/present'));
    // Each read leaves one data watch armed on the server until the node changes;
    // a change fires them all and lets them go.
    await zk.set('/leak/present', 'y');
    await sleep(200);
    expect(await collectedShare(refs)).toBeGreaterThan(0.95);
  });
});
