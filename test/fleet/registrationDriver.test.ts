/** The registration driver against a real ZooKeeper, in-process: data changes, a name held elsewhere, refusals. */
import { BehaviorSubject, NEVER } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistration } from '../../src/io/registration.js';
import { createZooKeeperDriver, type ZooKeeperDriver } from '../../src/io/zookeeper.js';
import { captureLogger } from '../metrics/logCapture.js';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';

let zk: ZkServer;
const drivers: ZooKeeperDriver[] = [];

beforeAll(async () => {
  zk = await startZooKeeper();
}, 60_000);
afterAll(async () => {
  for (const driver of drivers) driver.close();
  await zk?.dispose();
});

function driver(): ZooKeeperDriver {
  const d = createZooKeeperDriver({ address: [zk.connectString], timeoutMs: 2000 });
  drivers.push(d);
  return d;
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
const text = async (path: string): Promise<string | null> => (await zk.get(path))?.data.toString('utf8') ?? null;

describe('createRegistration', () => {
  it('creates the node with its parents, rewrites it when the data changes, deletes it on dispose', async () => {
    const { logger } = captureLogger();
    const data$ = new BehaviorSubject('{"ready":false}');
    const path = '/reg/a/b/instance-1';
    const registration = createRegistration({ zk: driver(), path, data$, retryMs: 200, logger });
    await eventually(async () => (await text(path)) === '{"ready":false}');
    data$.next('{"ready":true}');
    await eventually(async () => (await text(path)) === '{"ready":true}');
    await registration.dispose();
    expect(await zk.get(path)).toBeNull();
    // The parents are persistent and stay.
    expect(await zk.get('/reg/a/b')).not.toBeNull();
  });

  it('leaves a node another session holds alone, and takes the name when that node goes', async () => {
    const first = captureLogger();
    const second = captureLogger();
    const path = '/reg/shared/host:1';
    const a = createRegistration({ zk: driver(), path, data$: new BehaviorSubject('a'), retryMs: 200, logger: first.logger });
    await eventually(async () => (await text(path)) === 'a');
    const b = createRegistration({ zk: driver(), path, data$: new BehaviorSubject('b'), retryMs: 200, logger: second.logger });
    await eventually(async () => second.lines.some((l) => String(l.msg).startsWith('another ZooKeeper session holds')));
    await new Promise((r) => setTimeout(r, 300));
    expect(await text(path)).toBe('a');
    await a.dispose();
    await eventually(async () => (await text(path)) === 'b');
    // b's dispose deletes its own node; a's second dispose changes nothing.
    await a.dispose();
    expect(await text(path)).toBe('b');
    await b.dispose();
    expect(await zk.get(path)).toBeNull();
  });

  it('creates nothing before the first data', async () => {
    const { logger } = captureLogger();
    const path = '/reg/silent/instance';
    const registration = createRegistration({ zk: driver(), path, data$: NEVER, retryMs: 200, logger });
    await new Promise((r) => setTimeout(r, 300));
    await registration.dispose();
    expect(await zk.get('/reg/silent')).toBeNull();
  });
});
