import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createZkTransaction } from '../../src/io/zkTransaction.js';
import { ZooKeeperError } from '../../src/errors.js';
import { freePort, startZooKeeper, type ZkServer } from '../support/zookeeper.js';

let zk: ZkServer;
beforeAll(async () => {
  zk = await startZooKeeper();
});
afterAll(() => zk?.dispose());

const text = async (path: string) => (await zk.get(path))?.data.toString() ?? null;

describe('ZooKeeper multi-op transaction driver (real server)', () => {
  it('applies checks, creates, writes and deletes together and reports new versions', async () => {
    await zk.set('/tx1/a', 'a0');
    await zk.set('/tx1/b', 'b0');
    const tx = createZkTransaction({ address: [zk.connectString], timeoutMs: 3000 });
    const outcome = await tx([
      { kind: 'set', path: '/tx1/a', data: 'a1', version: 0 },
      { kind: 'check', path: '/tx1/b', version: 0 },
      { kind: 'create', path: '/tx1/c', data: 'c0' },
    ]);
    expect(outcome.committed).toBe(true);
    expect(outcome.results.map((r) => r.rc)).toEqual([0, 0, 0]);
    expect(outcome.results[0]!.version).toBe(1);
    expect([await text('/tx1/a'), await text('/tx1/b'), await text('/tx1/c')]).toEqual(['a1', 'b0', 'c0']);
    const removed = await tx([{ kind: 'delete', path: '/tx1/c', version: 0 }]);
    expect(removed.committed).toBe(true);
    expect(await text('/tx1/c')).toBeNull();
  });

  it('applies nothing when one operation fails, and names that operation', async () => {
    await zk.set('/tx2/a', 'a0');
    await zk.set('/tx2/b', 'b0');
    await zk.set('/tx2/b', 'b1'); // version 1 now
    const tx = createZkTransaction({ address: [zk.connectString], timeoutMs: 3000 });
    const outcome = await tx([
      { kind: 'set', path: '/tx2/a', data: 'moved', version: 0 },
      { kind: 'set', path: '/tx2/b', data: 'moved', version: 0 },
      { kind: 'create', path: '/tx2/c', data: 'new' },
    ]);
    expect(outcome).toMatchObject({ committed: false, failed: 1 });
    expect(outcome.results[1]!.rcName).toMatch(/^ZBADVERSION/);
    expect([await text('/tx2/a'), await text('/tx2/b'), await text('/tx2/c')]).toEqual(['a0', 'b1', null]);
  });

  it('sends digest credentials first, and skips an address that does not answer', async () => {
    await zk.set('/tx3/a', 'a0');
    await zk.setDigestAcl('/tx3/a', 'ops:secret');
    const deadPort = await freePort();
    const anonymous = createZkTransaction({ address: [zk.connectString], timeoutMs: 3000 });
    const refused = await anonymous([{ kind: 'set', path: '/tx3/a', data: 'a1', version: -1 }]);
    expect(refused).toMatchObject({ committed: false, failed: 0 });
    expect(refused.results[0]!.rcName).toMatch(/^ZNOAUTH/);
    const tx = createZkTransaction({ address: [`127.0.0.1:${deadPort}`, zk.connectString], timeoutMs: 3000, auth: { scheme: 'digest', credential: 'ops:secret' } });
    const outcome = await tx([{ kind: 'set', path: '/tx3/a', data: 'a1', version: 0 }, { kind: 'create', path: '/tx3/b', data: 'b0' }]);
    expect(outcome.committed).toBe(true);
    expect(await text('/tx3/b')).toBe('b0');
    const dup = await tx([{ kind: 'create', path: '/tx3/c', data: 'x' }, { kind: 'create', path: '/tx3/b', data: 'dup' }]);
    expect(dup).toMatchObject({ committed: false, failed: 1 });
    expect(dup.results[1]!.rcName).toMatch(/^ZNODEEXISTS/);
    expect(await text('/tx3/c')).toBeNull();
  });

  it('rejects with a ZooKeeperError naming the addresses when no server answers', async () => {
    const deadPort = await freePort();
    const tx = createZkTransaction({ address: [`127.0.0.1:${deadPort}`], timeoutMs: 500 });
    await expect(tx([{ kind: 'check', path: '/x', version: 0 }])).rejects.toThrow(ZooKeeperError);
    await expect(tx([{ kind: 'check', path: '/x', version: 0 }])).rejects.toThrow(String(deadPort));
  });
});
