import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZooKeeper, type ZkServer } from '../support/zookeeper.js';

// The test ZooKeeper is shared by several suites; its own promises are checked here.
let zk: ZkServer;
beforeAll(async () => {
  zk = await startZooKeeper();
});
afterAll(async () => {
  await zk?.dispose();
});

describe('test ZooKeeper server', () => {
  it('writes, reads, lists and removes trees of nodes', async () => {
    expect(await zk.set('/s/a/b', { x: 1 })).toBe(0);
    expect(await zk.set('/s/a/b', 'two')).toBe(1);
    expect(await zk.get('/s/a/b')).toEqual({ data: Buffer.from('two'), version: 1 });
    expect(await zk.children('/s/a')).toEqual(['b']);
    await zk.remove('/s');
    expect(await zk.get('/s/a/b')).toBeNull();
    expect(await zk.children('/s')).toEqual([]);
    await zk.remove('/s'); // already gone: fine
  });

  it('pauses, resumes, stops and restarts with its data', async () => {
    await zk.set('/s/keep', 'kept');
    zk.pause();
    expect(await zk.ruok()).toBe(false);
    zk.resume();
    // A JVM just continued may take a moment to answer on a busy machine.
    const until = Date.now() + 5000;
    while (!(await zk.ruok()) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(await zk.ruok()).toBe(true);
    await zk.stop();
    expect(zk.running).toBe(false);
    expect(await zk.ruok()).toBe(false);
    await zk.restart();
    expect(zk.running).toBe(true);
    expect(await zk.get('/s/keep')).toMatchObject({ data: Buffer.from('kept') });
  });

  it('says how to install ZooKeeper when the jar is missing', async () => {
    await expect(startZooKeeper({ jar: '/nonexistent/zookeeper.jar' })).rejects.toThrow(/apt-get install -y zookeeper/);
  });
});
