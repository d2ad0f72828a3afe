import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ZooKeeperError } from '../../src/errors.js';
import { createZooKeeperDriver, ZooKeeperOperationError, type ZooKeeperDriver } from '../../src/io/zookeeper.js';
import type { ZkNodeEvent, ZkSessionState } from '../../src/model/zkTypes.js';
import { fourLetterWord, startZooKeeper, type ZkServer } from '../support/zookeeper.js';
import { sleep, waitFor } from './support.js';

let zk: ZkServer;
const drivers: ZooKeeperDriver[] = [];

beforeAll(async () => {
  zk = await startZooKeeper();
});
afterEach(() => {
  for (const d of drivers.splice(0)) d.close();
});
afterAll(async () => {
  await zk?.dispose();
});

function driver(extra: Partial<Parameters<typeof createZooKeeperDriver>[0]> = {}): ZooKeeperDriver {
  const d = createZooKeeperDriver({ address: [zk.connectString], timeoutMs: 1000, ...extra });
  drivers.push(d);
  return d;
}

/** Collects a watch's events; `next(kind)` resolves the first not-yet-taken event of that kind. */
function recorder(d: ZooKeeperDriver, path: string) {
  const events: ZkNodeEvent[] = [];
  const subscription = d.watchData(path).subscribe((e) => events.push(e));
  return { events, subscription, text: () => events.map((e) => (e.kind === 'data' ? `${e.data.toString()}@${e.version}` : e.kind)) };
}

async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('ZooKeeper driver', () => {
  it('validates its options once, naming what is wrong', () => {
    expect(() => createZooKeeperDriver({ address: [], timeoutMs: 1000 })).toThrow(ZooKeeperError);
    expect(() => createZooKeeperDriver({ address: ['host'], timeoutMs: 1000 })).toThrow(/"host" is not host:port/);
    expect(() => createZooKeeperDriver({ address: ['h:99999'], timeoutMs: 1000 })).toThrow(/port from 1 to 65535/);
    expect(() => createZooKeeperDriver({ address: ['h:1'], timeoutMs: 0 })).toThrow(/timeout/);
    expect(() => driver().watchData('relative')).toThrow(/not a ZooKeeper path/);
  });

  it('sees a missing node created after its parent was deleted and re-created', async () => {
    const d = driver();
    await zk.set('/gone/sibling', 'x');
    const rec = recorder(d, '/gone/t');
    await until(() => rec.text().join() === 'missing', 'missing');
    // The children watch on /gone fires as a delete of /gone itself.
    await zk.remove('/gone');
    await sleep(100);
    await zk.set('/gone/t', 'here');
    await until(() => rec.text().includes('here@0'), 'the node created under the re-created parent');
    rec.subscription.unsubscribe();
  });

  it('watches a node through change, delete and re-create, and forgets the watch on unsubscribe', async () => {
    const d = driver();
    await zk.set('/drv/a', 'one');
    const rec = recorder(d, '/drv/a');
    await until(() => rec.events.length === 1, 'the first read');
    await zk.set('/drv/a', 'two');
    await until(() => rec.events.length === 2, 'the change');
    await zk.remove('/drv/a');
    await until(() => rec.events.length === 3, 'the delete');
    await zk.set('/drv/a', 'three');
    await until(() => rec.events.length === 4, 'the re-create');
    expect(rec.text()).toEqual(['one@0', 'two@1', 'missing', 'three@0']);

    rec.subscription.unsubscribe();
    await zk.set('/drv/a', 'four');
    await sleep(200);
    expect(rec.events).toHaveLength(4);
  });

  it('watches a node that does not exist yet until it is created', async () => {
    const d = driver();
    const rec = recorder(d, '/drv/later');
    await until(() => rec.events.length === 1, 'missing');
    await zk.set('/drv/later', 'here');
    await until(() => rec.events.length === 2, 'the create');
    expect(rec.text()).toEqual(['missing', 'here@0']);
    rec.subscription.unsubscribe();
  });

  it('waits for many missing nodes of one parent with one shared server watch', async () => {
    await zk.set('/many/existing', 'x');
    const d = driver();
    const recs = Array.from({ length: 200 }, (_, i) => recorder(d, `/many/made-up-${i}`));
    await until(() => recs.every((r) => r.events.length === 1), 'every node missing');
    // mntr counts data and child watches alike (wchs shows data watches only).
    const monitor = await fourLetterWord(zk.host, zk.port, 'mntr');
    const total = Number(/zk_watch_count\s+(\d+)/.exec(monitor)?.[1]);
    // One children watch on /many, not one exists-watch per made-up name.
    expect(total).toBeGreaterThanOrEqual(1);
    expect(total).toBeLessThanOrEqual(2);
    await zk.set('/many/made-up-7', 'now');
    await until(() => recs[7]!.events.length === 2, 'the created node');
    expect(recs[7]!.text()).toEqual(['missing', 'now@0']);
    await sleep(100);
    expect(recs.filter((r) => r.events.length !== 1)).toHaveLength(1);
    for (const r of recs) r.subscription.unsubscribe();
  });

  it('reports a session expiry, opens a new session and re-reads every watched node', async () => {
    const d = driver();
    const states: ZkSessionState[] = [];
    d.state$.subscribe((s) => states.push(s));
    await zk.set('/drv/exp', 'v1');
    const rec = recorder(d, '/drv/exp');
    await until(() => rec.events.length === 1, 'the first read');
    const before = d.session();
    expect(before).toBeDefined();

    await zk.expireSession(before!.id, before!.password);
    await until(() => states.includes('expired') && states.at(-1) === 'connected', 'expiry and a new session');
    expect(d.session()?.id).not.toEqual(before!.id);
    await until(() => rec.events.length === 2, 'the re-read on the new session');

    await zk.set('/drv/exp', 'v2');
    await until(() => rec.events.length === 3, 'a change seen through the new watch');
    expect(rec.text()).toEqual(['v1@0', 'v1@0', 'v2@1']);
    // The server may hand the session back once before it ends it, so only the shape is fixed.
    expect(states.slice(0, 2)).toEqual(['connecting', 'connected']);
    expect(states.slice(-2)).toEqual(['expired', 'connected']);
    rec.subscription.unsubscribe();
  });

  it('reads, lists, creates and writes with versions for the tooling', async () => {
    const d = driver();
    await d.create('/drv/ops/x', 'a', { parents: true });
    await expect(d.create('/drv/ops/x', 'b')).rejects.toMatchObject({ rcName: 'ZNODEEXISTS' });
    expect(await d.get('/drv/ops/x')).toEqual({ data: Buffer.from('a'), version: 0 });
    expect(await d.set('/drv/ops/x', 'b', 0)).toBe(1);
    const stale = d.set('/drv/ops/x', 'c', 0);
    await expect(stale).rejects.toBeInstanceOf(ZooKeeperOperationError);
    await expect(stale).rejects.toMatchObject({ rcName: 'ZBADVERSION' });
    expect(await d.children('/drv/ops')).toEqual(['x']);
    expect(await d.children('/drv/none')).toBeNull();
    await d.remove('/drv/ops/x', 1);
    expect(await d.get('/drv/ops/x')).toBeNull();
  });

  it('sends digest credentials with its session', async () => {
    await zk.set('/drv/secret', 'hidden');
    await zk.setDigestAcl('/drv/secret', 'proxy:s3cret');
    const anonymous = recorder(driver(), '/drv/secret');
    const trusted = recorder(driver({ auth: { scheme: 'digest', credential: 'proxy:s3cret' } }), '/drv/secret');
    await until(() => anonymous.events.length >= 1 && trusted.events.length >= 1, 'both reads');
    expect(anonymous.events[0]).toEqual({ kind: 'error', reason: expect.stringMatching(/ZNOAUTH/) });
    expect(trusted.text()[0]).toBe('hidden@0');
    anonymous.subscription.unsubscribe();
    trusted.subscription.unsubscribe();
  });

  it('completes watches and rejects operations once closed', async () => {
    const d = createZooKeeperDriver({ address: [zk.connectString], timeoutMs: 1000 });
    await waitFor(d.state$, (s) => s === 'connected', 'connected');
    let completed = false;
    d.watchData('/drv/any').subscribe({ complete: () => (completed = true) });
    d.close();
    expect(completed).toBe(true);
    await expect(d.get('/drv/any')).rejects.toThrow(/closed/);
  });
});
