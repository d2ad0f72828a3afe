/** The registration driver against a real ZooKeeper, in-process: data changes, a name held elsewhere, refusals. */
import { BehaviorSubject, NEVER } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createRegistration } from '../../src/io/registration.js';
import { run } from '../../src/main.js';
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

describe('run() with a zookeeper section', () => {
  it('registers under the advertised names and reads the fleet for the rest of the process', async () => {
    const { logger } = captureLogger();
    const config = parseConfig(
      [
        `zookeeper: { address: ["${zk.connectString}"], root: /run-routes, timeout: 2000, instances_path: /run/instances }`,
        'metric: { type: none }',
        'server: { listen: "127.0.0.1:0", advertise: "mp-1.example.com:0", drain_timeout_ms: 100 }',
        'admin: { listen: "127.0.0.1:0", advertise: "ops.example.com:19091" }',
      ].join('\n'),
      '/tmp/run-fleet.yaml',
    );
    const proxy = await run(config, logger);
    try {
      const self = `mp-1.example.com:${proxy.address.port}`;
      await eventually(async () => (await zk.get(`/run/instances/${self}`)) !== null);
      expect(JSON.parse((await text(`/run/instances/${self}`))!)).toMatchObject({ listen: self, admin: 'http://ops.example.com:19091', routesRoot: '/run-routes' });
      expect(proxy.fleet?.self).toBe(self);
      const status = await proxy.fleet!.status();
      expect(status).toMatchObject({ path: '/run/instances', self, instances: [{ name: self, self: true, admin: 'http://ops.example.com:19091' }] });
      expect(proxy.fleet!.instances().map((i) => i.name)).toEqual([self]);
    } finally {
      await proxy.dispose();
    }
    expect(await zk.children('/run/instances')).toEqual([]);
  });
});
